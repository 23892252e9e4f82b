package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// readRoles reads each role with the per-role calls, a bounded number at a
// time. A role that cannot be read becomes a Problem, never a clean role.
func (l *Live) readRoles(ctx context.Context, arns []string, acct *Account, addProblem func(Problem)) {
	sem := make(chan struct{}, l.iamConcurrency())
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, arn := range arns {
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
			acct.Roles[arn] = role
			mu.Unlock()
		}()
	}
	wg.Wait()
}

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
	role := &Role{ARN: arn, Name: name, Tags: tagMap(got.Role.Tags)}
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
