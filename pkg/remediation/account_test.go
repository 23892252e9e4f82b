package remediation

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

type fixedCaller struct{ account, arn string }

func (f fixedCaller) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Account: aws.String(f.account), Arn: aws.String(f.arn)}, nil
}

// TestApplyRefusesAnotherAccount: the caller's account is checked before
// anything is read or written (the applier has no IAM or Lambda client
// here: any call would panic).
func TestApplyRefusesAnotherAccount(t *testing.T) {
	tests := []struct {
		name, function, account, caller, want string
	}{
		{"another account", "arn:aws:lambda:us-east-1:999999999999:function:f", "123456789012", "arn:aws:iam::123456789012:user/me", "is in account 999999999999"},
		{"another partition", "arn:aws-cn:lambda:cn-north-1:123456789012:function:f", "123456789012", "arn:aws:iam::123456789012:user/me", "partition aws-cn"},
		{"not a function ARN", "my-function", "123456789012", "arn:aws:iam::123456789012:user/me", "not a Lambda function ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Applier{STS: fixedCaller{tt.account, tt.caller}}
			err := a.Apply(context.Background(), Plan{FunctionARN: tt.function})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
	same := &Applier{STS: fixedCaller{"123456789012", "arn:aws:sts::123456789012:assumed-role/ops/me"}}
	if err := same.checkAccount(context.Background(), Plan{FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:f"}); err != nil {
		t.Fatalf("same account refused: %v", err)
	}
}
