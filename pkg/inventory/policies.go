package inventory

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

type policyResult struct {
	policy  *ManagedPolicy
	problem *Problem
}

// fetchPolicies reads the default version of each managed policy, a
// bounded number at a time. A policy that cannot be read comes back as a
// Problem; the audit then falls back to the well-known table or marks the
// roles using it unevaluated.
func (l *Live) fetchPolicies(ctx context.Context, arns []string) map[string]policyResult {
	out := make(map[string]policyResult, len(arns))
	sem := make(chan struct{}, l.iamConcurrency())
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, arn := range arns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			mp, op, err := l.readPolicy(ctx, arn)
			r := policyResult{policy: mp}
			if err != nil {
				r = policyResult{problem: &Problem{PolicyARN: arn, Operation: op, Message: describeAPIError(err)}}
			}
			mu.Lock()
			out[arn] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (l *Live) readPolicy(ctx context.Context, arn string) (*ManagedPolicy, string, error) {
	p, err := l.IAM.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return nil, "iam:GetPolicy", fmt.Errorf("get policy %s: %w", arn, err)
	}
	version := aws.ToString(p.Policy.DefaultVersionId)
	v, err := l.IAM.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(version)})
	if err != nil {
		return nil, "iam:GetPolicyVersion", fmt.Errorf("get policy %s version %s: %w", arn, version, err)
	}
	return &ManagedPolicy{ARN: arn, Name: aws.ToString(p.Policy.PolicyName), DefaultVersionID: version, Document: jsonString(v.PolicyVersion.Document)}, "", nil
}
