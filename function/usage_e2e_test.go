package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"lambda-role-audit/internal/awsfake"
	"lambda-role-audit/internal/faultproxy"
	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/audit"
)

const password = "hunter2-Sup3rS3cret"

// trailRecord is a CloudTrail record of a call by an assumed-role session.
func trailRecord(session, source, name, region string, at time.Time, params map[string]any, resources ...string) awsfake.TrailEvent {
	rec := map[string]any{
		"eventVersion": "1.09", "eventTime": at.UTC().Format(time.RFC3339), "eventSource": source, "eventName": name, "awsRegion": region,
		"sourceIPAddress": "3.4.5.6", "userAgent": "aws-sdk-go-v2/1.30", "requestParameters": params, "responseElements": nil,
		"userIdentity": map[string]any{"type": "AssumedRole", "principalId": "AROAEXAMPLE:" + session[strings.LastIndex(session, "/")+1:], "arn": session,
			"accountId": testenv.AccountID, "sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role"}}},
		"eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": testenv.AccountID,
	}
	var res []awsfake.TrailResource
	if len(resources) > 0 {
		var list []map[string]string
		for _, r := range resources {
			list = append(list, map[string]string{"ARN": r, "accountId": testenv.AccountID})
			res = append(res, awsfake.TrailResource{Type: "AWS::KMS::Key", Name: r})
		}
		rec["resources"] = list
	}
	return awsfake.TrailEvent{Region: region, Username: session[strings.LastIndex(session, "/")+1:], Time: at, Resources: res, Record: rec}
}

// TestPlanWithUsageEvidence: a role shared by two functions, and a third
// role whose session has the name of one of them. The plan of that
// function, through the real binary, holds exactly its own calls (read
// from event history over several pages, throttling retried) and the
// resources its environment names, and never the password its environment
// also holds, in any output.
func TestPlanWithUsageEvidence(t *testing.T) {
	moto := testenv.SharedMoto(t)
	table := "arn:aws:dynamodb:eu-west-1:" + testenv.AccountID + ":table/orders"
	queueURL := "https://sqs.eu-west-1.amazonaws.com/" + testenv.AccountID + "/orders-jobs"
	moto.Seed(t, testenv.Account{
		Roles: []testenv.Role{{Name: "shared", Attached: []string{adminPolicy}}, {Name: "other"}},
		Functions: []testenv.Function{
			{Region: "eu-west-1", Name: "orders", Role: "shared", Env: map[string]string{"TABLE_ARN": table, "JOBS_QUEUE": queueURL, "DB_PASSWORD": password}},
			{Region: "eu-west-1", Name: "billing", Role: "shared"},
			{Region: "eu-west-1", Name: "reports", Role: "other"},
		},
	})
	orders := "arn:aws:sts::" + testenv.AccountID + ":assumed-role/shared/orders"
	now := time.Now().UTC()
	key := "arn:aws:kms:eu-west-1:" + testenv.AccountID + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	trail := &awsfake.Trail{PageSize: 2, Events: []awsfake.TrailEvent{
		trailRecord(orders, "secretsmanager.amazonaws.com", "GetSecretValue", "eu-west-1", now.Add(-72*time.Hour), map[string]any{"secretId": "prod/orders-db"}),
		trailRecord(orders, "ssm.amazonaws.com", "GetParameter", "eu-west-1", now.Add(-48*time.Hour), map[string]any{"name": "/orders/config", "withDecryption": true}),
		trailRecord(orders, "kms.amazonaws.com", "Decrypt", "eu-west-1", now.Add(-47*time.Hour), map[string]any{"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, key),
		trailRecord(orders, "secretsmanager.amazonaws.com", "GetSecretValue", "eu-west-1", now.Add(-time.Hour), map[string]any{"secretId": "prod/orders-db"}),
		// Another function of the same role.
		trailRecord("arn:aws:sts::"+testenv.AccountID+":assumed-role/shared/billing", "ssm.amazonaws.com", "GetParameter", "eu-west-1", now.Add(-2*time.Hour), map[string]any{"name": "/billing/config"}),
		// Another role's session with the same name.
		trailRecord("arn:aws:sts::"+testenv.AccountID+":assumed-role/other/orders", "dynamodb.amazonaws.com", "DeleteTable", "eu-west-1", now.Add(-3*time.Hour), map[string]any{"tableName": "audit"}),
		// Older than the window.
		trailRecord(orders, "s3.amazonaws.com", "GetBucketAcl", "eu-west-1", now.Add(-40*24*time.Hour), map[string]any{"bucketName": "old"}),
		// A global call, recorded in us-east-1.
		trailRecord(orders, "sts.amazonaws.com", "GetCallerIdentity", "us-east-1", now.Add(-5*time.Hour), nil),
	}}
	proxy, env := startProxy(t, moto)
	proxy.Serve("cloudtrail", "LookupEvents", trail)
	proxy.SetFaultBudget(remainingAttempts)
	proxy.SetRules(faultproxy.Rule{Service: "cloudtrail", Operation: "LookupEvents", Fault: faultproxy.Throttle, Probability: 0.5})

	arn := testenv.FunctionARN("eu-west-1", "orders")
	out, stderr, code := run(t, env, "plan", "--function", arn, "--usage", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var plan audit.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range plan.Observed {
		got[o.Action] = strings.Join(o.Resources, ",")
	}
	want := map[string]string{
		"secretsmanager:GetSecretValue": "arn:aws:secretsmanager:eu-west-1:" + testenv.AccountID + ":secret:prod/orders-db-??????",
		"ssm:GetParameter":              "arn:aws:ssm:eu-west-1:" + testenv.AccountID + ":parameter/orders/config",
		"kms:Decrypt":                   key,
		"sts:GetCallerIdentity":         "*",
	}
	if len(got) != len(want) {
		t.Errorf("observed %v, want %v", got, want)
	}
	for a, r := range want {
		if got[a] != r {
			t.Errorf("%s on %q, want %q", a, got[a], r)
		}
	}
	w := plan.UsageWindow
	if w == nil || w.CallsMade < 4 || w.CutShort || len(w.Errors) != 0 || w.Events != 5 {
		t.Errorf("usage window %+v (pages of 2 in two regions)", w)
	}
	if n := proxy.Injected()["cloudtrail:LookupEvents throttle"]; n == 0 {
		t.Error("no throttling was injected: the test proves nothing about retries")
	}
	policy := string(plan.ObservedPolicy)
	if !strings.Contains(policy, `"secretsmanager:GetSecretValue"`) || strings.Contains(policy, "billing") || strings.Contains(policy, "DeleteTable") {
		t.Errorf("observed policy %s", policy)
	}
	refs := map[string]string{}
	for _, r := range plan.Referenced {
		refs[r.Source] = r.Resource
	}
	if refs["env:TABLE_ARN"] != table || refs["env:JOBS_QUEUE"] != "arn:aws:sqs:eu-west-1:"+testenv.AccountID+":orders-jobs" || len(refs) != 2 {
		t.Errorf("referenced %v", refs)
	}

	// The password is in no output: plan formats, the audit report, its
	// text, the verbose log.
	outputs := []string{out, stderr}
	for _, format := range []string{"cli", "cloudformation", "terraform"} {
		o, e, _ := run(t, env, "plan", "--function", arn, "--usage", "--format", format)
		outputs = append(outputs, o, e)
		if !strings.Contains(o, "from CloudTrail, the last 30 days") || !strings.Contains(o, "observed-usage") {
			t.Errorf("%s plan lacks the observed-usage policy:\n%s", format, o)
		}
	}
	for _, args := range [][]string{{"--regions", "eu-west-1", "--verbose"}, {"--regions", "eu-west-1", "--format", "json", "--verbose"}} {
		o, e, _ := run(t, env, args...)
		outputs = append(outputs, o, e)
	}
	for _, o := range outputs {
		if strings.Contains(o, password) || strings.Contains(o, "hunter2") {
			t.Fatalf("an environment value that names no resource leaked:\n%s", o)
		}
	}

	// remediate puts the observed-usage policy on the new role only with
	// --with-observed, and says so before it acts.
	o, e, code := run(t, env, "remediate", "--function", arn, "--yes", "--with-observed")
	if code != 0 || !strings.Contains(o, "--with-observed: the role also gets the policy observed-usage") {
		t.Fatalf("remediate --with-observed: exit %d\n%s\n%s", code, o, e)
	}
	ic := iam.NewFromConfig(moto.Config())
	pol, err := ic.GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{RoleName: aws.String(plan.RoleName), PolicyName: aws.String("observed-usage")})
	if err != nil || !strings.Contains(aws.ToString(pol.PolicyDocument), "GetSecretValue") {
		t.Fatalf("observed-usage on %s: %v", plan.RoleName, err)
	}
	billing := testenv.FunctionARN("eu-west-1", "billing")
	if o, e, code := run(t, env, "remediate", "--function", billing, "--yes"); code != 0 || strings.Contains(o, "observed-usage") {
		t.Fatalf("remediate without --with-observed: exit %d\n%s\n%s", code, o, e)
	}
	var billingPlan audit.Plan
	if o, _, _ := run(t, env, "plan", "--function", billing, "--format", "json"); json.Unmarshal([]byte(o), &billingPlan) != nil {
		t.Fatalf("billing plan: %s", o)
	}
	names, err := ic.ListRolePolicies(context.Background(), &iam.ListRolePoliciesInput{RoleName: aws.String(billingPlan.RoleName)})
	if err != nil || len(names.PolicyNames) != 0 {
		t.Errorf("without --with-observed the role has inline policies %v (%v)", names, err)
	}

	// CloudTrail denied: the plan says so and is still made.
	proxy.SetRules(faultproxy.Rule{Service: "cloudtrail", Fault: faultproxy.Deny})
	out, stderr, code = run(t, env, "plan", "--function", arn, "--usage", "--format", "json")
	var denied audit.Plan
	if code != 0 || json.Unmarshal([]byte(out), &denied) != nil {
		t.Fatalf("denied: exit %d %s", code, stderr)
	}
	if denied.UsageWindow == nil || len(denied.UsageWindow.Errors) != 2 || !strings.Contains(denied.UsageWindow.Errors[0], "AccessDenied") ||
		!strings.Contains(strings.Join(denied.Unknowns, " "), "Not read: eu-west-1: cloudtrail:LookupEvents: AccessDenied") {
		t.Errorf("denied: window %+v, notes %q", denied.UsageWindow, denied.Unknowns)
	}
}
