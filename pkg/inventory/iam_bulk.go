package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

type bulkIAM struct {
	roles    map[string]*Role
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

// lambdaAWSManaged lists the AWS-managed policies (absent from the bulk
// read) attached to roles Lambda can assume, to fetch them early.
func (b *bulkIAM) lambdaAWSManaged() []string {
	seen := map[string]bool{}
	var out []string
	for arn := range b.lambdaRoles {
		r := b.roles[arn]
		for _, p := range append(append([]string(nil), r.AttachedPolicyARNs...), r.BoundaryARN) {
			if p != "" && !seen[p] && b.policies[p] == nil {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// readBulk pages through GetAccountAuthorizationDetails for roles and
// customer managed policies. AWS-managed policies are left out on purpose:
// an account uses a few of them, and they are fetched one by one.
func (l *Live) readBulk(ctx context.Context) (*bulkIAM, error) {
	out := &bulkIAM{roles: map[string]*Role{}, policies: map[string]*ManagedPolicy{}, lambdaRoles: map[string]bool{}}
	in := &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []iamtypes.EntityType{iamtypes.EntityTypeRole, iamtypes.EntityTypeLocalManagedPolicy},
		MaxItems: aws.Int32(1000),
	}
	for {
		page, err := l.IAM.GetAccountAuthorizationDetails(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get account authorization details: %w", err)
		}
		for _, rd := range page.RoleDetailList {
			r := roleFromDetail(rd)
			out.roles[r.ARN] = r
			// The service name survives URL encoding unchanged.
			if strings.Contains(aws.ToString(rd.AssumeRolePolicyDocument), "lambda.amazonaws.com") {
				out.lambdaRoles[r.ARN] = true
			}
		}
		for _, p := range page.Policies {
			for _, v := range p.PolicyVersionList {
				if v.IsDefaultVersion {
					out.policies[aws.ToString(p.Arn)] = &ManagedPolicy{
						ARN: aws.ToString(p.Arn), Name: aws.ToString(p.PolicyName),
						DefaultVersionID: aws.ToString(v.VersionId), Document: jsonString(v.Document),
					}
				}
			}
		}
		if !page.IsTruncated || aws.ToString(page.Marker) == "" {
			return out, nil
		}
		in = &iam.GetAccountAuthorizationDetailsInput{Filter: in.Filter, MaxItems: in.MaxItems, Marker: page.Marker}
	}
}

func roleFromDetail(rd iamtypes.RoleDetail) *Role {
	r := &Role{ARN: aws.ToString(rd.Arn), Name: aws.ToString(rd.RoleName)}
	for _, p := range rd.RolePolicyList {
		r.Inline = append(r.Inline, InlinePolicy{Name: aws.ToString(p.PolicyName), Document: jsonString(p.PolicyDocument)})
	}
	for _, p := range rd.AttachedManagedPolicies {
		r.AttachedPolicyARNs = append(r.AttachedPolicyARNs, aws.ToString(p.PolicyArn))
	}
	if rd.PermissionsBoundary != nil {
		r.BoundaryARN = aws.ToString(rd.PermissionsBoundary.PermissionsBoundaryArn)
	}
	r.Tags = tagMap(rd.Tags)
	return r
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
