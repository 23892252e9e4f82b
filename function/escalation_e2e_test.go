package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/audit"
)

// TestEscalationPathsOnMoto: an account with stronger principals (a
// service role trusting several services, in an instance profile; an admin
// user; a role trusting the account; a function already running as an
// admin role) and execution roles that reach them by one path each. Live
// and snapshot reports agree, and each finding carries its path.
func TestEscalationPathsOnMoto(t *testing.T) {
	moto := testenv.SharedMoto(t)
	testenv.Require(t, "aws")
	ctx := testenv.Context(t)
	doc, allow := testenv.Doc, func(resource string, actions ...string) map[string]any {
		return map[string]any{"Effect": "Allow", "Action": actions, "Resource": resource}
	}
	admin := "arn:aws:iam::aws:policy/AdministratorAccess"
	moto.Seed(t, testenv.Account{
		Roles: []testenv.Role{
			{Name: "exec-pass", Inline: map[string]string{"p": doc(allow("*", "iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"))}},
			{Name: "exec-assume", Inline: map[string]string{"p": doc(allow(testenv.RoleARN("account-admin"), "sts:AssumeRole"))}},
			{Name: "exec-key", Inline: map[string]string{"p": doc(allow("arn:aws:iam::"+testenv.AccountID+":user/*", "iam:CreateAccessKey"))}},
			{Name: "exec-code", Inline: map[string]string{"p": doc(allow(testenv.FunctionARN("us-east-1", "deployer"), "lambda:UpdateFunctionCode"))}},
			{Name: "exec-ssm", Inline: map[string]string{"p": doc(allow("*", "ssm:SendCommand"))}},
			// PassRole only on a role nothing stronger stands behind.
			{Name: "exec-clean", Inline: map[string]string{"p": doc(allow(testenv.RoleARN("exec-clean"), "iam:PassRole"), allow("*", "lambda:CreateFunction", "lambda:InvokeFunction"))}},
			{Name: "fn-admin", Attached: []string{admin}},
		},
		Functions: []testenv.Function{
			{Region: "us-east-1", Name: "pass", Role: "exec-pass"},
			{Region: "us-east-1", Name: "assume", Role: "exec-assume"},
			{Region: "eu-west-1", Name: "key", Role: "exec-key"},
			{Region: "us-east-1", Name: "code", Role: "exec-code"},
			{Region: "us-east-1", Name: "ssm", Role: "exec-ssm"},
			{Region: "us-east-1", Name: "clean", Role: "exec-clean"},
			{Region: "us-east-1", Name: "deployer", Role: "fn-admin"},
		},
	})
	ic := iam.NewFromConfig(moto.Config())
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	services := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com","cloudformation.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`
	must(ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("svc-admin"), AssumeRolePolicyDocument: aws.String(services)}))
	must(ic.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("svc-admin"), PolicyArn: aws.String(admin)}))
	must(ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("svc-admin")}))
	must(ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("svc-admin"), RoleName: aws.String("svc-admin")}))
	root := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.AccountID + `:root"},"Action":"sts:AssumeRole"}]}`
	must(ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("account-admin"), AssumeRolePolicyDocument: aws.String(root)}))
	must(ic.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("account-admin"), PolicyArn: aws.String(admin)}))
	must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("boss")}))
	must(ic.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("boss"), PolicyArn: aws.String(admin)}))

	// Each execution role, the principal its path reaches, and an action
	// on the way.
	want := map[string][2]string{
		// Two admin roles trust Lambda; of paths of equal length the first
		// role by ARN is kept, so the result is the same on every run.
		"exec-pass":   {testenv.RoleARN("fn-admin"), "lambda:CreateFunction"},
		"exec-assume": {testenv.RoleARN("account-admin"), "sts:AssumeRole"},
		"exec-key":    {"arn:aws:iam::" + testenv.AccountID + ":user/boss", "iam:CreateAccessKey"},
		"exec-code":   {testenv.RoleARN("fn-admin"), "lambda:UpdateFunctionCode"},
		"exec-ssm":    {testenv.RoleARN("svc-admin"), "ssm:SendCommand"},
	}
	check := func(mode string, rep *audit.Report) map[string]audit.Finding {
		t.Helper()
		got := map[string]audit.Finding{}
		for _, f := range rep.Findings {
			got[f.RoleName] = f
		}
		for role, w := range want {
			f, ok := got[role]
			if !ok || f.Rule != audit.RuleAdminRole || f.Severity != audit.Medium || f.Evidence[0].Class != "escalation" {
				t.Errorf("%s: %s: %+v", mode, role, f)
				continue
			}
			path := f.Evidence[0].Path
			if len(path) != 1 || path[0].To != w[0] || !strings.Contains(strings.Join(path[0].Actions, " "), w[1]) {
				t.Errorf("%s: %s: path %+v, want one step to %s with %s", mode, role, path, w[0], w[1])
			}
		}
		if f, ok := got["exec-clean"]; ok {
			t.Errorf("%s: exec-clean has no stronger role to pass, yet: %+v", mode, f)
		}
		if got["fn-admin"].Rule != audit.RuleAdminRole || got["fn-admin"].Evidence[0].Class != "admin" {
			t.Errorf("%s: fn-admin: %+v", mode, got["fn-admin"])
		}
		return got
	}
	live, code := runJSON(t, moto.Env(), "--regions", "us-east-1,eu-west-1")
	if code != 1 || !live.Complete {
		t.Fatalf("live: exit %d complete %v errors %+v", code, live.Complete, live.Errors)
	}
	liveByRole := check("live", live)

	dir := exportSnapshot(t, moto, "us-east-1", "eu-west-1")
	snap, code := runJSON(t, nil, "--snapshot", dir)
	if code != 1 || !snap.Complete {
		t.Fatalf("snapshot: exit %d complete %v errors %+v", code, snap.Complete, snap.Errors)
	}
	for role, f := range check("snapshot", snap) {
		if !reflect.DeepEqual(f.Evidence, liveByRole[role].Evidence) {
			t.Errorf("%s: evidence differs between live and snapshot:\nlive %+v\nsnap %+v", role, liveByRole[role].Evidence, f.Evidence)
		}
	}
	text, _, _ := run(t, nil, "--snapshot", dir)
	if !strings.Contains(text, "1. role exec-assume: sts:AssumeRole (allowed by inline policy p statement 0; trust policy") {
		t.Errorf("the text report must show the path one step a line:\n%s", text)
	}
}
