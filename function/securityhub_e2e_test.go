package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"lambda-role-audit/internal/faultproxy"
	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/asff"
	"lambda-role-audit/pkg/audit"
)

const adminPolicy = "arn:aws:iam::aws:policy/AdministratorAccess"

// seedSharedAdmin: two functions share an admin role, a third has its own
// plain role.
func seedSharedAdmin(t *testing.T, moto *testenv.Moto, alias string) {
	t.Helper()
	moto.Seed(t, testenv.Account{
		Roles: []testenv.Role{{Name: "shared-admin", Attached: []string{adminPolicy}}, {Name: "own"}},
		Functions: []testenv.Function{
			{Region: "us-east-1", Name: "orders", Role: "shared-admin"},
			{Region: "us-east-1", Name: "billing", Role: "shared-admin"},
			{Region: "us-east-1", Name: "report", Role: "own"},
		},
	})
	if alias != "" {
		if _, err := iam.NewFromConfig(moto.Config()).CreateAccountAlias(context.Background(), &iam.CreateAccountAliasInput{AccountAlias: aws.String(alias)}); err != nil {
			t.Fatal(err)
		}
	}
}

// ourFindings reads back every finding of this tool in the account's hub.
func ourFindings(t *testing.T, moto *testenv.Moto) map[string]shtypes.AwsSecurityFinding {
	t.Helper()
	out := map[string]shtypes.AwsSecurityFinding{}
	resp, err := securityhub.NewFromConfig(moto.Config()).GetFindings(context.Background(), &securityhub.GetFindingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range resp.Findings {
		if strings.HasPrefix(aws.ToString(f.GeneratorId), asff.Prefix) {
			out[aws.ToString(f.Id)] = f
		}
	}
	return out
}

// TestSecurityHubFindingsOnMoto: the real binary imports the alerting
// findings into Security Hub; once the admin policy is detached, the next
// complete audit archives that finding as PASSED, keeping when it was
// first seen.
func TestSecurityHubFindingsOnMoto(t *testing.T) {
	moto := testenv.SharedMoto(t)
	ctx := testenv.Context(t)
	seedSharedAdmin(t, moto, "payments-prod")
	if _, err := securityhub.NewFromConfig(moto.Config()).EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatal(err)
	}
	rep, code := runJSON(t, moto.Env(), "--regions", "us-east-1", "--security-hub")
	if code != 1 || !rep.Complete || len(rep.DeliveryErrors) > 0 || rep.AccountAlias != "payments-prod" {
		t.Fatalf("exit %d, complete %v, delivery %+v, alias %q", code, rep.Complete, rep.DeliveryErrors, rep.AccountAlias)
	}
	var shared audit.Finding
	for _, f := range rep.Findings {
		if f.Rule == audit.RuleSharedAdminRole {
			shared = f
		}
	}
	found := ourFindings(t, moto)
	if len(found) != len(rep.Alerting(audit.Medium)) || len(found) == 0 {
		t.Fatalf("%d findings in Security Hub, %d alerting in the report", len(found), len(rep.Alerting(audit.Medium)))
	}
	f, ok := found[asff.Prefix+shared.ID]
	if !ok {
		t.Fatalf("no Security Hub finding for %s: %v", shared.ID, found)
	}
	if f.Severity.Label != shtypes.SeverityLabelCritical || f.Compliance.Status != shtypes.ComplianceStatusFailed ||
		f.RecordState != shtypes.RecordStateActive || len(f.Resources) != 3 || aws.ToString(f.Resources[0].Id) != testenv.RoleARN("shared-admin") ||
		aws.ToString(f.ProductArn) != "arn:aws:securityhub:us-east-1:"+testenv.AccountID+":product/"+testenv.AccountID+"/default" {
		t.Errorf("finding: %+v", f)
	}
	created := aws.ToString(f.CreatedAt)

	if _, err := iam.NewFromConfig(moto.Config()).DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("shared-admin"), PolicyArn: aws.String(adminPolicy)}); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, moto.Env(), "--regions", "us-east-1", "--security-hub", "--fail-on", "critical")
	if code != 0 || !strings.Contains(stderr, "1 archived") {
		t.Fatalf("second run: exit %d, %s", code, stderr)
	}
	f = ourFindings(t, moto)[asff.Prefix+shared.ID]
	if f.RecordState != shtypes.RecordStateArchived || f.Compliance.Status != shtypes.ComplianceStatusPassed || aws.ToString(f.CreatedAt) != created {
		t.Errorf("the resolved finding must be archived and PASSED, created %s as before: %+v", created, f)
	}
}

// TestSecurityHubNotEnabled: Security Hub refusing the account (as AWS
// answers where it is not enabled) is a clear error in the report and the
// alert, exit status 2, and the alert still goes out.
func TestSecurityHubNotEnabled(t *testing.T) {
	moto := testenv.SharedMoto(t)
	seedSharedAdmin(t, moto, "")
	topic, q := alertSetup(t, moto)
	proxy, env := startProxy(t, moto)
	proxy.SetRules(faultproxy.Rule{Service: "securityhub", Fault: faultproxy.NotSubscribed})
	rep, code := runJSON(t, env, "--regions", "us-east-1", "--security-hub", "--publish", topic)
	if code != 2 || !rep.Complete || len(rep.DeliveryErrors) != 1 || !strings.Contains(rep.DeliveryErrors[0].Message, "not enabled") {
		t.Fatalf("exit %d complete %v delivery %+v", code, rep.Complete, rep.DeliveryErrors)
	}
	msgs := q.drain(t)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "export failed") {
		t.Fatalf("alerts: %+v", msgs)
	}
	if !strings.Contains(msgs[0].Message, "Security Hub is not enabled") {
		t.Errorf("the alert must say why Security Hub was not updated: %s", msgs[0].Message)
	}
}

// TestCentralTopicAcrossAccounts: two accounts' audits publish to one
// topic in a third (the security account); its subscriber receives both,
// each naming its account (and alias).
func TestCentralTopicAcrossAccounts(t *testing.T) {
	moto := testenv.SharedMoto(t)
	security, a, b := moto.As(t, "333333333333"), moto.As(t, "111111111111"), moto.As(t, "222222222222")
	topic, q := alertSetup(t, security)
	seedSharedAdmin(t, a, "")
	seedSharedAdmin(t, b, "payments-prod")
	for _, acct := range []*testenv.Moto{a, b} {
		if _, stderr, code := run(t, acct.Env(), "--regions", "us-east-1", "--publish", topic); code != 1 {
			t.Fatalf("%s: exit %d: %s", acct.Account(), code, stderr)
		}
	}
	msgs := q.drain(t)
	subjects := map[string]bool{}
	for _, m := range msgs {
		subjects[strings.SplitN(m.Subject, ":", 2)[0]] = true
	}
	want := map[string]bool{"lambda-role-audit 111111111111": true, "lambda-role-audit 222222222222 (payments-prod)": true}
	if len(msgs) != 2 || len(subjects) != 2 || !subjects["lambda-role-audit 111111111111"] || !subjects["lambda-role-audit 222222222222 (payments-prod)"] {
		t.Fatalf("subjects %v, want %v", subjects, want)
	}
}

// TestScheduledLambdaSecurityHub: the scheduled function, under the
// runtime emulator with SECURITY_HUB=on, imports findings and, after the
// fix, archives them; the alert names the account by its alias.
func TestScheduledLambdaSecurityHub(t *testing.T) {
	moto := testenv.SharedMoto(t)
	ctx := testenv.Context(t)
	seedSharedAdmin(t, moto, "payments-prod")
	if _, err := securityhub.NewFromConfig(moto.Config()).EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatal(err)
	}
	topicARN, queue := alertSetup(t, moto)
	bootstrap, rie := buildLambda(t)
	em := startEmulator(t, bootstrap, rie, append(moto.Env(),
		"ALERT_TOPIC_ARN="+topicARN, "AUDIT_REGIONS=us-east-1", "SECURITY_HUB=on", "AWS_LAMBDA_FUNCTION_TIMEOUT=120"))
	scheduled, _ := os.ReadFile("../deploy/events/scheduled.json")
	sum, raw := em.invoke(t, string(scheduled))
	if sum.SecurityHub == nil || sum.SecurityHub.Imported != sum.Alerting || sum.Alerting == 0 || !sum.Published {
		t.Fatalf("first run: %+v", raw)
	}
	if n := len(ourFindings(t, moto)); n != sum.Alerting {
		t.Fatalf("%d findings in Security Hub, %d alerting", n, sum.Alerting)
	}
	msgs := queue.drain(t)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Subject, "lambda-role-audit 123456789012 (payments-prod): ") {
		t.Fatalf("alert: %+v", msgs)
	}
	if _, err := iam.NewFromConfig(moto.Config()).DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("shared-admin"), PolicyArn: aws.String(adminPolicy)}); err != nil {
		t.Fatal(err)
	}
	sum, raw = em.invoke(t, string(scheduled))
	if sum.SecurityHub == nil || sum.SecurityHub.Archived != 1 {
		t.Fatalf("after the fix: %+v", raw)
	}
	for id, f := range ourFindings(t, moto) {
		if f.RecordState != shtypes.RecordStateArchived {
			t.Errorf("%s is still %s", id, f.RecordState)
		}
	}
}
