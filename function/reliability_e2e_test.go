package main

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"lambda-role-audit/internal/faultproxy"
	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/awsenv"
)

// startProxy puts the fault-injection proxy in front of moto and returns
// the environment that sends the binary through it.
func startProxy(t *testing.T, moto *testenv.Moto) (*faultproxy.Proxy, []string) {
	t.Helper()
	p, err := faultproxy.Start(moto.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	env := append(moto.Env(), "AWS_ENDPOINT_URL="+p.URL)
	return p, env
}

// remainingAttempts leaves every call at least one attempt that the fault
// proxy does not touch, within awsenv.FailureAttempts.
const remainingAttempts = awsenv.FailureAttempts / 2

func TestAuditSurvivesThrottlingAndServerErrors(t *testing.T) {
	moto := testenv.SharedMoto(t)
	want := seedMixedAccount(t, moto)
	proxy, env := startProxy(t, moto)
	clean, _ := runJSON(t, moto.Env(), "--regions", "us-east-1,eu-west-1")

	// 5% server errors, then 30% of all calls throttled, and a few dropped
	// connections, on every service. No call draws more than 3 faults in
	// all, under the retryer's limit of 6 attempts: which calls fail depends
	// on the order concurrent calls reach the proxy, but none can fail for
	// good, so the outcome is the same on every run.
	proxy.SetFaultBudget(remainingAttempts)
	rules := []faultproxy.Rule{
		{Fault: faultproxy.ServerError, Probability: 0.05},
		{Fault: faultproxy.Throttle, Probability: 0.30 / 0.95},
		{Fault: faultproxy.Reset, Probability: 0.02},
	}
	for _, strategy := range []string{"bulk", "per-role"} {
		proxy.SetRules(rules...)
		rep, code := runJSON(t, append(env, "AUDIT_IAM_STRATEGY="+strategy), "--regions", "us-east-1,eu-west-1")
		if code != 1 || !rep.Complete || len(rep.Errors) != 0 {
			t.Fatalf("%s: exit %d, complete %v, errors %+v", strategy, code, rep.Complete, rep.Errors)
		}
		if !reflect.DeepEqual(keys(rep), want) || !reflect.DeepEqual(rep.Findings, clean.Findings) {
			t.Fatalf("%s: findings differ from a clean run:\n%+v", strategy, keys(rep))
		}
	}
	injected := proxy.Injected()
	var throttled, failed int
	for k, n := range injected {
		if strings.HasSuffix(k, " throttle") {
			throttled += n
		}
		if strings.HasSuffix(k, " server-error") {
			failed += n
		}
	}
	if throttled < 10 || failed < 2 {
		t.Fatalf("too few faults injected to prove anything: %v", injected)
	}
}

func TestFailedRegionsMakeTheAuditIncomplete(t *testing.T) {
	moto := testenv.SharedMoto(t)
	seedMixedAccount(t, moto)
	topicARN, queue := alertSetup(t, moto)
	proxy, env := startProxy(t, moto)
	proxy.SetRules(
		faultproxy.Rule{Service: "lambda", Region: "eu-west-1", Fault: faultproxy.Deny},
		faultproxy.Rule{Service: "lambda", Region: "ap-east-1", Fault: faultproxy.NotEnabled},
	)
	rep, code := runJSON(t, env, "--regions", "us-east-1,eu-west-1,ap-east-1", "--publish", topicARN)
	if code != 2 || rep.Complete {
		t.Fatalf("exit %d complete %v: an audit that could not see two regions must not pass", code, rep.Complete)
	}
	if strings.Join(rep.Regions, ",") != "us-east-1" || len(rep.Errors) != 2 {
		t.Fatalf("regions %v errors %+v", rep.Regions, rep.Errors)
	}
	byRegion := map[string]audit.Error{}
	for _, e := range rep.Errors {
		byRegion[e.Region] = e
	}
	if e := byRegion["eu-west-1"]; e.Operation != "lambda:ListFunctions" || !strings.Contains(e.Message, "AccessDeniedException") {
		t.Errorf("eu-west-1 error = %+v", e)
	}
	if e := byRegion["ap-east-1"]; !strings.Contains(e.Message, "UnrecognizedClientException") {
		t.Errorf("ap-east-1 error = %+v", e)
	}
	// The regions that could be read are still audited and still alert.
	found := map[string]string{}
	for _, f := range rep.Findings {
		found[f.RoleName] = f.Rule
	}
	if found["shared-bounded"] != audit.RuleSharedAdminRole || found["single-admin"] != audit.RuleAdminRole {
		t.Errorf("us-east-1 findings missing: %v", found)
	}
	msgs := queue.drain(t)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "INCOMPLETE (ap-east-1: UnrecognizedClient +1); 2 high, 2 medium") {
		t.Fatalf("alert: %+v", msgs)
	}
	text, _, _ := run(t, env, "--regions", "us-east-1,eu-west-1")
	if lines := strings.Split(text, "\n"); !strings.HasSuffix(lines[0], "audit INCOMPLETE") || !strings.HasPrefix(lines[2], "INCOMPLETE AUDIT") {
		t.Errorf("text report does not open with the incompleteness:\n%s", text)
	}
}

func TestMissingIAMPermissionsLeaveRolesUnevaluated(t *testing.T) {
	moto := testenv.SharedMoto(t)
	seedMixedAccount(t, moto)
	proxy, env := startProxy(t, moto)
	proxy.SetRules(
		// Without the bulk read the audit falls back to per-role calls...
		faultproxy.Rule{Service: "iam", Operation: "GetAccountAuthorizationDetails", Fault: faultproxy.Deny},
		// ...some of which are denied too.
		faultproxy.Rule{Service: "iam", Operation: "GetRolePolicy", Contains: "RoleName=shared-admin&", Fault: faultproxy.Deny},
		faultproxy.Rule{Service: "iam", Operation: "GetPolicy", Contains: "policy%2Fold-admin&", Fault: faultproxy.Deny},
	)
	rep, code := runJSON(t, env, "--regions", "us-east-1,eu-west-1")
	if code != 2 || rep.Complete {
		t.Fatalf("exit %d complete %v", code, rep.Complete)
	}
	errs := map[string]audit.Error{}
	for _, e := range rep.Errors {
		errs[e.RoleARN] = e
	}
	if e := errs[testenv.RoleARN("shared-admin")]; e.Operation != "iam:GetRolePolicy" || !strings.Contains(e.Message, "AccessDenied") || len(e.Functions) != 2 {
		t.Errorf("shared-admin error = %+v", e)
	}
	if e := errs[testenv.RoleARN("shared-old-versions")]; e.Operation != "iam:GetPolicy" || !strings.Contains(e.Message, "not authorized to perform: iam:GetPolicy") {
		t.Errorf("shared-old-versions error = %+v", e)
	}
	for _, f := range rep.Findings {
		if f.RoleName == "shared-admin" || f.RoleName == "shared-old-versions" {
			t.Errorf("an unevaluated role was judged: %+v", f)
		}
	}
	if len(rep.Findings) != 5 {
		t.Errorf("the readable roles must still be audited: %d findings", len(rep.Findings))
	}
}

func TestPublishingFailureFailsLoudly(t *testing.T) {
	moto := testenv.SharedMoto(t)
	seedMixedAccount(t, moto)
	topicARN, _ := alertSetup(t, moto)
	proxy, env := startProxy(t, moto)
	proxy.SetRules(faultproxy.Rule{Service: "sns", Operation: "Publish", Fault: faultproxy.Deny})

	stdout, stderr, code := run(t, env, "--regions", "us-east-1", "--publish", topicARN, "--format", "json")
	if code != 2 || !strings.Contains(stderr, "AuthorizationError") || !strings.Contains(stdout, `"findings"`) {
		t.Fatalf("CLI: exit %d, stderr %s", code, stderr)
	}

	bootstrap, rie := buildLambda(t)
	em := startEmulator(t, bootstrap, rie, append(env, "ALERT_TOPIC_ARN="+topicARN, "AUDIT_REGIONS=us-east-1"))
	_, raw := em.invoke(t, `{}`)
	if msg, _ := raw["errorMessage"].(string); !strings.Contains(msg, "AuthorizationError") {
		t.Fatalf("handler must fail when publishing fails: %+v", raw)
	}
	if log := em.log.String(); !strings.Contains(log, `"msg":"audit report"`) || !strings.Contains(log, `"msg":"alert not published"`) {
		t.Fatalf("the report must be logged before the failure:\n%s", log)
	}
}

func TestDeadlinePublishesWhatWasRead(t *testing.T) {
	moto := testenv.SharedMoto(t)
	seedMixedAccount(t, moto)
	topicARN, queue := alertSetup(t, moto)
	proxy, env := startProxy(t, moto)
	// eu-west-1 answers too slowly for the invocation.
	proxy.SetRules(faultproxy.Rule{Service: "lambda", Region: "eu-west-1", Fault: faultproxy.Delay, Latency: 30 * time.Second})
	bootstrap, rie := buildLambda(t)
	em := startEmulator(t, bootstrap, rie, append(env, "ALERT_TOPIC_ARN="+topicARN, "AUDIT_REGIONS=us-east-1,eu-west-1", "AWS_LAMBDA_FUNCTION_TIMEOUT=8"))
	// The emulator ends an invocation at its timeout with an error instead
	// of a summary, so a summary proves the deadline was kept, whatever the
	// machine's load.
	sum, raw := em.invoke(t, `{}`)
	if sum.Complete || !sum.Published || sum.Functions == 0 {
		t.Fatalf("summary: %+v", raw)
	}
	msgs := queue.drain(t)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "INCOMPLETE") {
		t.Fatalf("alert: %+v", msgs)
	}
	var rep audit.Report
	json.Unmarshal([]byte(msgs[0].Message), &rep)
	if len(rep.Errors) == 0 || rep.Errors[0].Region != "eu-west-1" || !strings.Contains(rep.Errors[0].Message, "ran out of time") {
		t.Fatalf("the report must say what was skipped: %+v", rep.Errors)
	}
}

func TestBadPolicyDocumentsInASnapshot(t *testing.T) {
	dir := t.TempDir()
	huge := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Sid":"` + strings.Repeat("x", 11<<20) + `"}]}`
	iamJSON := map[string]any{
		"RoleDetailList": []any{
			map[string]any{"RoleName": "broken", "Arn": testenv.RoleARN("broken"), "RolePolicyList": []any{map[string]any{"PolicyName": "notjson", "PolicyDocument": "{\"Statement\": [oops"}}},
			map[string]any{"RoleName": "double", "Arn": testenv.RoleARN("double"), "RolePolicyList": []any{map[string]any{"PolicyName": "enc", "PolicyDocument": "%257B%2522Statement%2522%253A%255B%255D%257D"}}},
			map[string]any{"RoleName": "huge", "Arn": testenv.RoleARN("huge"), "RolePolicyList": []any{map[string]any{"PolicyName": "big", "PolicyDocument": huge}}},
		},
		"Policies": []any{},
	}
	b, _ := json.Marshal(iamJSON)
	os.WriteFile(dir+"/iam.json", b, 0o644)
	fns := `{"Functions":[` +
		`{"FunctionName":"a","FunctionArn":"` + testenv.FunctionARN("us-east-1", "a") + `","Role":"` + testenv.RoleARN("broken") + `"},` +
		`{"FunctionName":"b","FunctionArn":"` + testenv.FunctionARN("us-east-1", "b") + `","Role":"` + testenv.RoleARN("double") + `"},` +
		`{"FunctionName":"c","FunctionArn":"` + testenv.FunctionARN("us-east-1", "c") + `","Role":"` + testenv.RoleARN("huge") + `"}]}`
	os.WriteFile(dir+"/lambda-us-east-1.json", []byte(fns), 0o644)
	rep, code := runJSON(t, nil, "--snapshot", dir)
	if code != 2 || rep.Complete || len(rep.Findings) != 0 || len(rep.Errors) != 3 {
		t.Fatalf("exit %d complete %v findings %d errors %+v", code, rep.Complete, len(rep.Findings), rep.Errors)
	}
	want := map[string]string{"broken": `inline policy "notjson": policy document is not valid JSON`, "double": "double-encoded", "huge": "over the 10485760-byte limit"}
	for _, e := range rep.Errors {
		name := e.RoleARN[strings.LastIndex(e.RoleARN, "/")+1:]
		if !strings.Contains(e.Message, want[name]) {
			t.Errorf("%s: %q lacks %q", name, e.Message, want[name])
		}
	}
}

func TestRegionThatKeepsFailingIsGivenUpQuickly(t *testing.T) {
	moto := testenv.SharedMoto(t)
	seedMixedAccount(t, moto)
	proxy, env := startProxy(t, moto)
	proxy.SetRules(
		faultproxy.Rule{Service: "lambda", Region: "eu-west-1", Fault: faultproxy.ServerError},
		faultproxy.Rule{Service: "lambda", Region: "ap-east-1", Fault: faultproxy.Reset},
	)
	rep, code := runJSON(t, env, "--regions", "us-east-1,eu-west-1,ap-east-1")
	// Bounded by calls, not by the clock: the region answering 5xx is tried
	// exactly FailureAttempts times. (Resets are not counted: Go's HTTP
	// transport itself replays a request whose reused connection drops,
	// as often as it has idle connections; the SDK's count is in the
	// error message checked below.)
	if got := proxy.Injected()["lambda:ListFunctions server-error"]; got != awsenv.FailureAttempts {
		t.Errorf("eu-west-1 ListFunctions drew %d server errors, want %d: a dead region must be given up after %d attempts", got, awsenv.FailureAttempts, awsenv.FailureAttempts)
	}
	if code != 2 || rep.Complete || len(rep.Errors) != 2 || strings.Join(rep.Regions, ",") != "us-east-1" {
		t.Fatalf("exit %d complete %v regions %v errors %+v", code, rep.Complete, rep.Regions, rep.Errors)
	}
	for _, e := range rep.Errors {
		if !strings.Contains(e.Message, "gave up after 6 attempts") {
			t.Errorf("%s: %q does not say the retries ran out", e.Region, e.Message)
		}
	}
}

func TestCommandLineTimeoutReportsWhatWasRead(t *testing.T) {
	moto := testenv.SharedMoto(t)
	seedMixedAccount(t, moto)
	proxy, env := startProxy(t, moto)
	proxy.SetRules(faultproxy.Rule{Service: "lambda", Region: "eu-west-1", Fault: faultproxy.Delay, Latency: time.Minute})
	// eu-west-1 answers after a minute: only the timeout can end the run
	// with eu-west-1 skipped, so the report proves it, whatever the load.
	rep, code := runJSON(t, env, "--regions", "us-east-1,eu-west-1", "--timeout", "3s")
	if code != 2 || rep.Complete || len(rep.Errors) != 1 || rep.Errors[0].Region != "eu-west-1" || !strings.Contains(rep.Errors[0].Message, "ran out of time") {
		t.Fatalf("exit %d errors %+v", code, rep.Errors)
	}
	if len(rep.Findings) == 0 {
		t.Error("what was read before the timeout must still be reported")
	}
}
