package testenv

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// AccountID is moto's default account.
const AccountID = "123456789012"

// LambdaTrust lets Lambda assume a role.
const LambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// Account describes resources to create in moto.
type Account struct {
	Policies  []Policy
	Roles     []Role
	Functions []Function
}

// Policy is a customer managed policy. Every version is created; the
// Default-th (1-based; 0 means the last) is the default.
type Policy struct {
	Name     string
	Versions []string
	Default  int
}

// Role is an execution role. Attached entries are ARNs, or names of
// Policies in the same Account.
type Role struct {
	Name     string
	Attached []string
	Inline   map[string]string
	Boundary string
	Tags     map[string]string
}

// Function is a Lambda function.
type Function struct {
	Region, Name, Role string
	SubnetIDs          []string
	ActiveTracing      bool
	DeadLetterARN      string
	KMSKeyARN          string
	Env                map[string]string
}

// PolicyARN is the ARN of a customer managed policy in moto's account.
func PolicyARN(name string) string { return "arn:aws:iam::" + AccountID + ":policy/" + name }

// RoleARN is the ARN of a role in moto's account.
func RoleARN(name string) string { return "arn:aws:iam::" + AccountID + ":role/" + name }

// FunctionARN is the ARN of a function in moto's account.
func FunctionARN(region, name string) string {
	return "arn:aws:lambda:" + region + ":" + AccountID + ":function:" + name
}

// Doc builds a policy document from statements.
func Doc(statements ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	return string(b)
}

// Seed creates the account in moto through the real SDK.
func (m *Moto) Seed(t testing.TB, a Account) {
	t.Helper()
	ctx := context.Background()
	cfg := m.Config()
	iamc := iam.NewFromConfig(cfg)
	resolve := func(ref string) string {
		if strings.HasPrefix(ref, "arn:") {
			return ref
		}
		return "arn:aws:iam::" + m.Account() + ":policy/" + ref
	}
	for _, p := range a.Policies {
		out, err := iamc.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(p.Name), PolicyDocument: aws.String(p.Versions[0])})
		if err != nil {
			t.Fatalf("create policy %s: %v", p.Name, err)
		}
		def := p.Default
		if def == 0 {
			def = len(p.Versions)
		}
		for i, v := range p.Versions[1:] {
			_, err := iamc.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: out.Policy.Arn, PolicyDocument: aws.String(v), SetAsDefault: i+2 == def})
			if err != nil {
				t.Fatalf("create version of %s: %v", p.Name, err)
			}
		}
	}
	for _, r := range a.Roles {
		in := &iam.CreateRoleInput{RoleName: aws.String(r.Name), AssumeRolePolicyDocument: aws.String(LambdaTrust)}
		if r.Boundary != "" {
			in.PermissionsBoundary = aws.String(resolve(r.Boundary))
		}
		for k, v := range r.Tags {
			in.Tags = append(in.Tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := iamc.CreateRole(ctx, in); err != nil {
			t.Fatalf("create role %s: %v", r.Name, err)
		}
		for _, p := range r.Attached {
			if _, err := iamc.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(r.Name), PolicyArn: aws.String(resolve(p))}); err != nil {
				t.Fatalf("attach %s to %s: %v", p, r.Name, err)
			}
		}
		for name, doc := range r.Inline {
			if _, err := iamc.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(r.Name), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
				t.Fatalf("put %s on %s: %v", name, r.Name, err)
			}
		}
	}
	zip := FunctionZip()
	for _, f := range a.Functions {
		lc := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.Region = f.Region })
		in := &lambda.CreateFunctionInput{
			FunctionName: aws.String(f.Name), Role: aws.String("arn:aws:iam::" + m.Account() + ":role/" + f.Role), Runtime: lambdatypes.RuntimePython312,
			Handler: aws.String("index.handler"), Code: &lambdatypes.FunctionCode{ZipFile: zip},
		}
		if len(f.SubnetIDs) > 0 {
			in.VpcConfig = &lambdatypes.VpcConfig{SubnetIds: f.SubnetIDs, SecurityGroupIds: []string{"sg-12345678"}}
		}
		if f.ActiveTracing {
			in.TracingConfig = &lambdatypes.TracingConfig{Mode: lambdatypes.TracingModeActive}
		}
		if f.DeadLetterARN != "" {
			in.DeadLetterConfig = &lambdatypes.DeadLetterConfig{TargetArn: aws.String(f.DeadLetterARN)}
		}
		if f.KMSKeyARN != "" {
			in.KMSKeyArn = aws.String(f.KMSKeyARN)
		}
		if f.Env != nil {
			in.Environment = &lambdatypes.Environment{Variables: f.Env}
		}
		if _, err := lc.CreateFunction(ctx, in); err != nil {
			t.Fatalf("create function %s in %s: %v", f.Name, f.Region, err)
		}
	}
}
