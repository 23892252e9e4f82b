package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// readRoles reads each role with the per-role calls, a bounded number at a
// time, keyed by the ARN asked for. A role that cannot be read becomes a
// Problem, never a clean role. account is the audited account: a role ARN
// in another one is never looked up here, where its name could belong to
// some other role.
func (l *Live) readRoles(ctx context.Context, arns []string, account string, addProblem func(Problem)) map[string]*Role {
	out := make(map[string]*Role, len(arns))
	sem := make(chan struct{}, l.iamConcurrency())
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, arn := range arns {
		if other := arnAccount(arn); other != account {
			addProblem(Problem{RoleARN: arn, Message: fmt.Sprintf("the role is in account %s, not the audited account %s: its policies cannot be read from here", other, account)})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			role, op, err := l.readRole(ctx, arn)
			if err != nil {
				addProblem(Problem{RoleARN: arn, Operation: op, Message: describeAPIError(err)})
				return
			}
			mu.Lock()
			out[arn] = role
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// readRole reads one role by the name in its ARN. IAM answers for the role
// of that name whatever its case; the role is taken only if its ARN (path
// included) is the one asked for, ignoring case as IAM does.
func (l *Live) readRole(ctx context.Context, arn string) (*Role, string, error) {
	name := RoleNameFromARN(arn)
	got, err := l.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			return &Role{ARN: arn, Name: name, Missing: true}, "", nil
		}
		return nil, "iam:GetRole", fmt.Errorf("get role %s: %w", name, err)
	}
	if got.Role == nil {
		return nil, "iam:GetRole", fmt.Errorf("get role %s: no role in the answer", name)
	}
	canonical := aws.ToString(got.Role.Arn)
	if !strings.EqualFold(canonical, arn) {
		return nil, "iam:GetRole", fmt.Errorf("IAM's role named %s is %s, not %s (another path or account)", name, canonical, arn)
	}
	arn, name = canonical, aws.ToString(got.Role.RoleName)
	role := &Role{ARN: arn, Name: name, Tags: tagMap(got.Role.Tags)}
	if got.Role.AssumeRolePolicyDocument != nil {
		role.TrustPolicy = jsonString(got.Role.AssumeRolePolicyDocument)
	}
	if got.Role.PermissionsBoundary != nil {
		role.BoundaryARN = aws.ToString(got.Role.PermissionsBoundary.PermissionsBoundaryArn)
	}
	var marker *string
	for {
		page, err := l.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name), Marker: marker})
		if err != nil {
			return nil, "iam:ListRolePolicies", fmt.Errorf("list inline policies of %s: %w", name, err)
		}
		for _, pn := range page.PolicyNames {
			doc, err := l.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pn)})
			if err != nil {
				return nil, "iam:GetRolePolicy", fmt.Errorf("get inline policy %s of %s: %w", pn, name, err)
			}
			role.Inline = append(role.Inline, InlinePolicy{Name: pn, Document: jsonString(doc.PolicyDocument)})
		}
		if !page.IsTruncated {
			break
		}
		marker = page.Marker
	}
	marker = nil
	for {
		page, err := l.IAM.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name), Marker: marker})
		if err != nil {
			return nil, "iam:ListAttachedRolePolicies", fmt.Errorf("list attached policies of %s: %w", name, err)
		}
		for _, p := range page.AttachedPolicies {
			role.AttachedPolicyARNs = append(role.AttachedPolicyARNs, aws.ToString(p.PolicyArn))
		}
		if !page.IsTruncated {
			break
		}
		marker = page.Marker
	}
	return role, "", nil
}
