package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

type bulkIAM struct {
	roles    map[string]*Role
	users    map[string]*User
	groups   map[string]*Group
	dir      *Directory
	policies map[string]*ManagedPolicy
	// lambdaRoles are the roles whose trust policy names Lambda: the only
	// ones a function can use.
	lambdaRoles map[string]bool
}

// lookup finds a role of the bulk read by ARN, as IAM does: exactly, or
// ignoring case.
func (b *bulkIAM) lookup() func(string) (*Role, bool) {
	var folded map[string]*Role
	return func(arn string) (*Role, bool) {
		if r, ok := b.roles[arn]; ok {
			return r, true
		}
		if folded == nil {
			folded = make(map[string]*Role, len(b.roles))
			for a, r := range b.roles {
				folded[strings.ToLower(a)] = r
			}
		}
		r, ok := folded[strings.ToLower(arn)]
		return r, ok
	}
}

// lambdaView is what the bulk read knows of the roles Lambda can assume:
// those roles, and every managed policy read so far.
func (b *bulkIAM) lambdaView(prefetched map[string]policyResult) (map[string]*Role, map[string]*ManagedPolicy) {
	roles := make(map[string]*Role, len(b.lambdaRoles))
	for arn := range b.lambdaRoles {
		roles[arn] = b.roles[arn]
	}
	policies := make(map[string]*ManagedPolicy, len(b.policies)+len(prefetched))
	for arn, p := range b.policies {
		policies[arn] = p
	}
	for arn, r := range prefetched {
		if r.policy != nil {
			policies[arn] = r.policy
		}
	}
	return roles, policies
}

// directory is the read's principals: one value, so that what is prepared
// from it early is recognised later.
func (b *bulkIAM) directory() *Directory {
	if b.dir == nil {
		b.dir = &Directory{Roles: b.roles, Users: b.users, Groups: b.groups}
	}
	return b.dir
}

// readBulk pages through GetAccountAuthorizationDetails for roles and
// customer managed policies. AWS-managed policies are left out on purpose:
// an account uses a few of them, and they are fetched one by one.
func (l *Live) readBulk(ctx context.Context, attached func(...string), onPage func(IAMPage)) (*bulkIAM, error) {
	out := &bulkIAM{roles: map[string]*Role{}, users: map[string]*User{}, groups: map[string]*Group{},
		policies: map[string]*ManagedPolicy{}, lambdaRoles: map[string]bool{}}
	in := &iam.GetAccountAuthorizationDetailsInput{
		Filter: []iamtypes.EntityType{iamtypes.EntityTypeRole, iamtypes.EntityTypeUser, iamtypes.EntityTypeGroup,
			iamtypes.EntityTypeLocalManagedPolicy},
		MaxItems: aws.Int32(1000),
	}
	for {
		page, err := l.IAM.GetAccountAuthorizationDetails(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get account authorization details: %w", err)
		}
		var got IAMPage
		for _, rd := range page.RoleDetailList {
			r := roleFromDetail(rd)
			out.roles[r.ARN] = r
			got.Roles = append(got.Roles, r)
			attached(r.AttachedPolicyARNs...)
			attached(r.BoundaryARN)
			// The service name survives URL encoding unchanged.
			if strings.Contains(aws.ToString(rd.AssumeRolePolicyDocument), "lambda.amazonaws.com") {
				out.lambdaRoles[r.ARN] = true
			}
		}
		for _, ud := range page.UserDetailList {
			u := userFromDetail(ud)
			out.users[u.ARN] = u
			got.Users = append(got.Users, u)
			attached(u.AttachedPolicyARNs...)
			attached(u.BoundaryARN)
		}
		for _, gd := range page.GroupDetailList {
			g := groupFromDetail(gd)
			out.groups[g.ARN] = g
			got.Groups = append(got.Groups, g)
			attached(g.AttachedPolicyARNs...)
		}
		for _, p := range page.Policies {
			mp := &ManagedPolicy{ARN: aws.ToString(p.Arn), Name: aws.ToString(p.PolicyName), OtherVersions: []PolicyVersion{}}
			for _, v := range p.PolicyVersionList {
				if v.IsDefaultVersion {
					mp.DefaultVersionID, mp.Document = aws.ToString(v.VersionId), jsonString(v.Document)
				} else {
					mp.OtherVersions = append(mp.OtherVersions, PolicyVersion{ID: aws.ToString(v.VersionId), Document: jsonString(v.Document)})
				}
			}
			if mp.Document != nil {
				out.policies[mp.ARN] = mp
				got.Policies = append(got.Policies, mp)
			}
		}
		if onPage != nil {
			onPage(got)
		}
		if !page.IsTruncated || aws.ToString(page.Marker) == "" {
			return out, nil
		}
		in = &iam.GetAccountAuthorizationDetailsInput{Filter: in.Filter, MaxItems: in.MaxItems, Marker: page.Marker}
	}
}

func roleFromDetail(rd iamtypes.RoleDetail) *Role {
	r := &Role{ARN: aws.ToString(rd.Arn), Name: aws.ToString(rd.RoleName),
		Inline: inlineFromDetail(rd.RolePolicyList), AttachedPolicyARNs: attachedFromDetail(rd.AttachedManagedPolicies)}
	if rd.PermissionsBoundary != nil {
		r.BoundaryARN = aws.ToString(rd.PermissionsBoundary.PermissionsBoundaryArn)
	}
	r.Tags = tagMap(rd.Tags)
	if rd.AssumeRolePolicyDocument != nil {
		r.TrustPolicy = jsonString(rd.AssumeRolePolicyDocument)
	}
	r.InstanceProfile = len(rd.InstanceProfileList) > 0
	return r
}

func userFromDetail(ud iamtypes.UserDetail) *User {
	u := &User{ARN: aws.ToString(ud.Arn), Name: aws.ToString(ud.UserName), Groups: ud.GroupList,
		Inline: inlineFromDetail(ud.UserPolicyList), AttachedPolicyARNs: attachedFromDetail(ud.AttachedManagedPolicies)}
	if ud.PermissionsBoundary != nil {
		u.BoundaryARN = aws.ToString(ud.PermissionsBoundary.PermissionsBoundaryArn)
	}
	return u
}

func groupFromDetail(gd iamtypes.GroupDetail) *Group {
	return &Group{ARN: aws.ToString(gd.Arn), Name: aws.ToString(gd.GroupName),
		Inline: inlineFromDetail(gd.GroupPolicyList), AttachedPolicyARNs: attachedFromDetail(gd.AttachedManagedPolicies)}
}

// inlineFromDetail and attachedFromDetail convert the policy lists that
// roles, users and groups share in the bulk read (nil when empty, as the
// per-role read leaves them).
func inlineFromDetail(list []iamtypes.PolicyDetail) []InlinePolicy {
	var out []InlinePolicy
	for _, p := range list {
		out = append(out, InlinePolicy{Name: aws.ToString(p.PolicyName), Document: jsonString(p.PolicyDocument)})
	}
	return out
}

func attachedFromDetail(list []iamtypes.AttachedPolicy) []string {
	var out []string
	for _, p := range list {
		out = append(out, aws.ToString(p.PolicyArn))
	}
	return out
}

func tagMap(tags []iamtypes.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// jsonString keeps an API document (URL-encoded text) as a JSON string value,
// the form the policy package decodes.
func jsonString(s *string) json.RawMessage {
	b, _ := json.Marshal(aws.ToString(s)) // marshalling a string cannot fail
	return b
}
