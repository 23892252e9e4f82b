package deploy

import (
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/handler"
)

// watchedPattern is the event pattern that matches exactly the calls the
// handler audits after.
func watchedPattern() string {
	var sources, names []string
	for source, calls := range handler.WatchedCalls {
		sources = append(sources, source)
		names = append(names, calls...)
	}
	sort.Strings(sources)
	return mustJSON(map[string]any{
		"source":      []string{"aws.iam", "aws.lambda"},
		"detail-type": []string{"AWS API Call via CloudTrail"},
		"detail": map[string]any{
			"eventSource": sources,
			"eventName":   sortedCopy(names),
			"errorCode":   []any{map[string]any{"exists": false}},
		},
	})
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// patternOf is a rule's pattern with its name lists sorted.
func patternOf(t *testing.T, rule any) string {
	t.Helper()
	p := get(t, rule, "Properties", "EventPattern").(map[string]any)
	detail := p["detail"].(map[string]any)
	var names []string
	for _, n := range detail["eventName"].([]any) {
		names = append(names, n.(string))
	}
	detail["eventName"] = sortedCopy(names)
	return mustJSON(p)
}

// TestRealTimeResources: the rule matches exactly the watched calls,
// successful ones only; the queue is encrypted with a dead-letter queue
// and its alarm; the function consumes it in batches with partial-batch
// answers; the role gains exactly the S3 and SQS actions the code uses, on
// its own bucket key and queue; the state bucket is versioned, private,
// encrypted with the stack's key, keeps 90 days of versions and outlives
// the stack. Disabled, none of the real-time resources or grants remain.
func TestRealTimeResources(t *testing.T) {
	tpl := loadTemplate(t)
	res := get(t, deployed(t, tpl, nil), "Resources").(map[string]any)
	if got, want := patternOf(t, res["ChangeRule"]), watchedPattern(); got != want {
		t.Errorf("rule pattern\n got %s\nwant %s", got, want)
	}
	if target := mustJSON(get(t, res, "ChangeRule", "Properties", "Targets")); !strings.Contains(target, `{"Fn::GetAtt":["ChangeQueue","Arn"]}`) {
		t.Errorf("rule target %s", target)
	}
	queue := mustJSON(get(t, res, "ChangeQueue", "Properties"))
	for _, want := range []string{`"SqsManagedSseEnabled":true`, `"deadLetterTargetArn":{"Fn::GetAtt":["ChangeDeadLetterQueue","Arn"]}`} {
		if !strings.Contains(queue, want) {
			t.Errorf("change queue lacks %s: %s", want, queue)
		}
	}
	if p := mustJSON(get(t, res, "ChangeQueuePolicy", "Properties", "PolicyDocument")); !strings.Contains(p, `"aws:SourceArn":{"Fn::GetAtt":["ChangeRule","Arn"]}`) {
		t.Errorf("only the rule may send: %s", p)
	}
	esm := mustJSON(get(t, res, "ChangeEvents", "Properties"))
	for _, want := range []string{`"FunctionResponseTypes":["ReportBatchItemFailures"]`, `"MaximumBatchingWindowInSeconds":{"Ref":"ChangeBatchingWindow"}`, `"FunctionName":{"Ref":"AuditFunction"}`} {
		if !strings.Contains(esm, want) {
			t.Errorf("event source mapping lacks %s: %s", want, esm)
		}
	}
	if d := get(t, tpl, "Parameters", "ChangeBatchingWindow", "Default"); mustJSON(d) != "60" {
		t.Errorf("batching window default %v", d)
	}
	if dims := mustJSON(get(t, res, "ChangeDeadLetterAlarm", "Properties", "Dimensions")); !strings.Contains(dims, "ChangeDeadLetterQueue") {
		t.Errorf("dead-letter alarm watches %s", dims)
	}

	bucket := get(t, res, "StateBucket")
	props := mustJSON(get(t, bucket, "Properties"))
	for _, want := range []string{`"SSEAlgorithm":"aws:kms"`, `"KMSMasterKeyID":{"Fn::GetAtt":["AlertKey","Arn"]}`, `"Status":"Enabled"`,
		`"BlockPublicAcls":true`, `"BlockPublicPolicy":true`, `"IgnorePublicAcls":true`, `"RestrictPublicBuckets":true`, `"NoncurrentDays":90`} {
		if !strings.Contains(props, want) {
			t.Errorf("state bucket lacks %s: %s", want, props)
		}
	}
	if get(t, bucket, "DeletionPolicy") != "Retain" || get(t, bucket, "UpdateReplacePolicy") != "Retain" {
		t.Error("the state bucket (the audit's history) must outlive the stack")
	}
	env := mustJSON(get(t, res, "AuditFunction", "Properties", "Environment", "Variables"))
	for _, want := range []string{`"STATE_BUCKET":{"Ref":"StateBucket"}`, `"AUDIT_ROLE_ARN":{"Fn::GetAtt":["AuditFunctionRole","Arn"]}`} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s: %s", want, env)
		}
	}
	if strings.Contains(env, "STATE_PARAMETER") || strings.Contains(mustJSON(res), "AWS::SSM::Parameter") {
		t.Error("the SSM state parameter is gone: the state is the report in S3")
	}

	grants := roleGrants(t, res)
	wantGrants := map[string]string{
		"s3:GetObject":           `{"Fn::Sub":"${StateBucket.Arn}/state/last-complete-report.json"}`,
		"s3:PutObject":           `{"Fn::Sub":"${StateBucket.Arn}/state/last-complete-report.json"}`,
		"sqs:ReceiveMessage":     `{"Fn::GetAtt":["ChangeQueue","Arn"]}`,
		"sqs:DeleteMessage":      `{"Fn::GetAtt":["ChangeQueue","Arn"]}`,
		"sqs:GetQueueAttributes": `{"Fn::GetAtt":["ChangeQueue","Arn"]}`,
	}
	for action, grant := range grants {
		if strings.HasPrefix(action, "s3:") || strings.HasPrefix(action, "sqs:") {
			if wantGrants[action] != grant {
				t.Errorf("%s on %s, want %q", action, grant, wantGrants[action])
			}
		}
	}
	for action := range wantGrants {
		if _, ok := grants[action]; !ok {
			t.Errorf("the role lacks %s", action)
		}
	}
	if keyPolicy := mustJSON(get(t, res, "AlertKey", "Properties", "KeyPolicy")); !strings.Contains(keyPolicy, `"kms:ViaService":{"Fn::Sub":"s3.${AWS::Region}.${AWS::URLSuffix}"}`) {
		t.Error("the key must let the function's role use it through S3 (the state), and only so")
	}

	off := get(t, deployed(t, tpl, map[string]string{"RealTime": "Disabled"}), "Resources").(map[string]any)
	for _, id := range []string{"ChangeRule", "ChangeQueue", "ChangeDeadLetterQueue", "ChangeQueuePolicy", "ChangeEvents", "ChangeDeadLetterAlarm"} {
		if _, ok := off[id]; ok {
			t.Errorf("RealTime Disabled keeps %s", id)
		}
	}
	for action := range roleGrants(t, off) {
		if strings.HasPrefix(action, "sqs:") {
			t.Errorf("RealTime Disabled keeps %s", action)
		}
	}
	if _, ok := off["StateBucket"]; !ok {
		t.Error("the state is kept whether or not real time is on")
	}
}

// TestEventForwarder: the same pattern, forwarded to the home region's
// default bus by a role that may put events there and nowhere else; and
// never deployed in the home region itself.
func TestEventForwarder(t *testing.T) {
	testenv.Require(t, "cfn-lint")
	for _, args := range [][]string{{"--", "event-forwarder.yaml"}, {"--parameters", "RealTime=Disabled", "--", templatePath}} {
		if out, err := exec.Command("cfn-lint", args...).CombinedOutput(); err != nil {
			t.Errorf("cfn-lint %v: %v\n%s", args, err, out)
		}
	}
	tpl := decodeTemplate(t, "event-forwarder.yaml", false)
	res := get(t, tpl, "Resources").(map[string]any)
	if got, want := patternOf(t, res["ForwardRule"]), watchedPattern(); got != want {
		t.Errorf("forwarder pattern\n got %s\nwant %s", got, want)
	}
	bus := `{"Fn::Sub":"arn:${AWS::Partition}:events:${HomeRegion}:${AWS::AccountId}:event-bus/default"}`
	target := get(t, res, "ForwardRule", "Properties", "Targets").([]any)[0]
	if mustJSON(get(t, target, "Arn")) != bus || mustJSON(get(t, target, "RoleArn")) != `{"Fn::GetAtt":["ForwarderRole","Arn"]}` {
		t.Errorf("target %s", mustJSON(target))
	}
	policies := get(t, res, "ForwarderRole", "Properties", "Policies").([]any)
	stmts := get(t, policies[0], "PolicyDocument", "Statement").([]any)
	if len(policies) != 1 || len(stmts) != 1 || mustJSON(get(t, stmts[0], "Action")) != `"events:PutEvents"` || mustJSON(get(t, stmts[0], "Resource")) != bus {
		t.Errorf("forwarder role: %s", mustJSON(policies))
	}
	if broken := brokenRules(t, tpl, map[string]string{"HomeRegion": "us-east-1"}); !slices.Equal(broken, []string{"NotTheHomeRegion"}) {
		t.Errorf("in its home region the forwarder must be refused: %v", broken)
	}
	if broken := brokenRules(t, tpl, map[string]string{"HomeRegion": "eu-west-1"}); len(broken) != 0 {
		t.Errorf("elsewhere it deploys: %v", broken)
	}
}

// TestUsageEvidenceParameter: the function's role may read CloudTrail's
// event history only when UsageEvidence is Enabled, and the function is
// told so.
func TestUsageEvidenceParameter(t *testing.T) {
	tpl := loadTemplate(t)
	for value, want := range map[string]bool{"Enabled": true, "Disabled": false} {
		res := get(t, deployed(t, tpl, map[string]string{"UsageEvidence": value}), "Resources").(map[string]any)
		grant, ok := roleGrants(t, res)["cloudtrail:LookupEvents"]
		if ok != want || (ok && grant != `"*"`) {
			t.Errorf("UsageEvidence=%s: cloudtrail:LookupEvents granted %v on %s", value, ok, grant)
		}
		env := get(t, res, "AuditFunction", "Properties", "Environment", "Variables", "USAGE_EVIDENCE")
		if (env == "on") != want {
			t.Errorf("UsageEvidence=%s: USAGE_EVIDENCE=%v", value, env)
		}
	}
}
