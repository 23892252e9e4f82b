// Package deploy holds the deployment extras; its tests check the SAM
// template and the Lambda build artifact with real tools (cfn-lint, go
// build, debug/elf).
package deploy

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/asff"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/policy"
	"lambda-role-audit/pkg/remediation"
	"lambda-role-audit/pkg/usage"
)

const templatePath = "../template.yaml"

// loadTemplate decodes template.yaml with cfn-lint's own YAML decoder, which
// understands the short intrinsic-function tags (!Ref, !Sub, ...).
func loadTemplate(t *testing.T) map[string]any {
	return decodeTemplate(t, templatePath, false)
}

// decodeTemplate decodes a template; transformed, it is what CloudFormation
// deploys: the template after the SAM transform, as cfn-lint's own copy of
// the SAM translator produces it.
func decodeTemplate(t *testing.T, path string, transformed bool) map[string]any {
	t.Helper()
	testenv.Require(t, "cfn-lint")
	script := `import json, sys
from cfnlint.decode import decode
tpl, matches = decode(sys.argv[1])
if matches:
    sys.exit("\n".join(str(m) for m in matches))
if sys.argv[2] == "transform":
    from cfnlint.template.transforms._sam import Transform
    tr = Transform(sys.argv[1], tpl, "us-east-1")
    matches = tr.transform_template()
    if matches:
        sys.exit("\n".join(str(m) for m in matches))
    tpl = tr._template
json.dump(tpl, sys.stdout, default=str)`
	mode := "plain"
	if transformed {
		mode = "transform"
	}
	out, err := exec.Command("python3", "-c", script, path, mode).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("decode template: %v %s", err, stderr)
	}
	var tpl map[string]any
	if err := json.Unmarshal(out, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

func get(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object at %q", strings.Join(path, "."), p)
		}
		if v, ok = m[p]; !ok {
			t.Fatalf("template has no %s", strings.Join(path, "."))
		}
	}
	return v
}

func TestCfnLintAcceptsTemplate(t *testing.T) {
	testenv.Require(t, "cfn-lint")
	out, err := exec.Command("cfn-lint", templatePath).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}

// TestAuditorRolePassesItsOwnAudit reads the function role's inline
// policies from the template and runs them through the project's own policy
// analysis and rules: no admin, near-admin or escalation statement.
func TestAuditorRolePassesItsOwnAudit(t *testing.T) {
	tpl := loadTemplate(t)
	for name, params := range deployVariants {
		t.Run(name, func(t *testing.T) { checkAuditorRole(t, deployed(t, tpl, params)) })
	}
}

// deployVariants are the parameter sets the template is checked with: the
// defaults, and a member account of an organization (Security Hub on,
// alerts to the central topic).
var deployVariants = map[string]map[string]string{
	"defaults":            nil,
	"organization member": {"SecurityHub": "Enabled", "CentralTopicArn": centralTopic, "CentralTopicKeyArn": centralKey},
}

const (
	centralTopic = "arn:aws:sns:us-east-1:111122223333:org-lambda-role-audit"
	centralKey   = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// functionRolePolicies are the function role's inline policies and the
// policy resources attached to it.
func functionRolePolicies(t *testing.T, res map[string]any) []any {
	t.Helper()
	out := append([]any{}, get(t, res, "AuditFunctionRole", "Properties", "Policies").([]any)...)
	for id, r := range res {
		if get(t, r, "Type") != "AWS::IAM::Policy" {
			continue
		}
		if roles := mustJSON(get(t, r, "Properties", "Roles")); roles != `[{"Ref":"AuditFunctionRole"}]` {
			t.Errorf("policy %s is attached to %s", id, roles)
			continue
		}
		out = append(out, get(t, r, "Properties"))
	}
	return out
}

func checkAuditorRole(t *testing.T, tpl map[string]any) {
	res := get(t, tpl, "Resources").(map[string]any)
	fnRole := get(t, res, "AuditFunction", "Properties", "Role")
	if !strings.Contains(mustJSON(fnRole), "AuditFunctionRole") {
		t.Fatalf("the function does not use AuditFunctionRole: %v", fnRole)
	}
	role := &inventory.Role{ARN: "arn:aws:iam::123456789012:role/lambda-role-audit-AuditFunctionRole", Name: "lambda-role-audit-AuditFunctionRole"}
	if _, ok := get(t, res, "AuditFunctionRole", "Properties").(map[string]any)["ManagedPolicyArns"]; ok {
		t.Fatal("the auditor role attaches managed policies; keep its permissions inline and scoped")
	}
	actions := map[string]bool{}
	for _, p := range functionRolePolicies(t, res) {
		name := get(t, p, "PolicyName").(string)
		doc := resolveIntrinsics(get(t, p, "PolicyDocument"))
		parsed, err := policy.ParseJSON(json.RawMessage(mustJSON(doc)))
		if err != nil {
			t.Fatalf("policy %s: %v", name, err)
		}
		if a := policy.Judge(policy.Locate(parsed, 0, name), policy.Subject{ARN: role.ARN}); len(a.Grants) > 0 {
			t.Errorf("policy %s grants %s: %s", name, a.Grants[0].Class, a.Grants[0].Reason)
		}
		for _, st := range parsed.Statement {
			if st.NotAction != nil {
				t.Errorf("policy %s uses NotAction", name)
			}
			for _, a := range st.Action {
				actions[a] = true
				if strings.Contains(a, "*") {
					t.Errorf("policy %s uses the wildcard action %q", name, a)
				}
			}
		}
		role.Inline = append(role.Inline, inventory.InlinePolicy{Name: name, Document: json.RawMessage(mustJSON(doc))})
	}
	for _, needed := range []string{"lambda:ListFunctions", "lambda:ListEventSourceMappings", "iam:GetAccountAuthorizationDetails", "iam:GetPolicyVersion", "ec2:DescribeRegions", "sns:Publish", "s3:GetObject", "s3:PutObject", "sqs:ReceiveMessage", "sqs:DeleteMessage"} {
		if !actions[needed] {
			t.Errorf("the auditor role lacks %s, which the audit uses", needed)
		}
	}
	acct := &inventory.Account{ID: "123456789012", Regions: []string{"us-east-1"},
		Functions: []inventory.Function{{ARN: "arn:aws:lambda:us-east-1:123456789012:function:lambda-role-audit-audit", Region: "us-east-1", RoleARN: role.ARN}},
		Roles:     map[string]*inventory.Role{role.ARN: role}, Policies: map[string]*inventory.ManagedPolicy{}}
	rep := audit.Evaluate(acct, audit.Options{})
	if !rep.Complete || len(rep.Findings) != 0 {
		t.Fatalf("the auditor's own role fails its audit: %+v %+v", rep.Findings, rep.Errors)
	}
}

// ownOrCentralTopic is where everything the stack says goes: its own
// topic, or an organization's central one.
const ownOrCentralTopic = `{"Fn::If":["UseCentralTopic",{"Ref":"CentralTopicArn"},{"Ref":"AlertTopic"}]}`

func TestTemplateShape(t *testing.T) {
	tpl := loadTemplate(t)
	res := get(t, tpl, "Resources").(map[string]any)
	fn := get(t, res, "AuditFunction")
	for path, want := range map[string]string{
		"Properties.Runtime": "provided.al2023", "Properties.Handler": "bootstrap", "Metadata.BuildMethod": "makefile",
		"Properties.LoggingConfig.LogFormat": "JSON", "Properties.Events.DailyAudit.Type": "ScheduleV2",
		"Properties.EventInvokeConfig.DestinationConfig.OnFailure.Type": "SNS",
	} {
		if got := get(t, fn, strings.Split(path, ".")...); got != want {
			t.Errorf("AuditFunction %s = %v, want %s", path, got, want)
		}
	}
	if arch := mustJSON(get(t, fn, "Properties", "Architectures")); arch != `["arm64"]` {
		t.Errorf("architectures = %s", arch)
	}
	if s := mustJSON(get(t, fn, "Properties", "Events", "DailyAudit", "Properties", "ScheduleExpression")); s != `{"Ref":"ScheduleExpression"}` {
		t.Errorf("schedule = %s", s)
	}
	if d := get(t, tpl, "Parameters", "ScheduleExpression", "Default"); d != "rate(1 day)" {
		t.Errorf("default schedule = %v", d)
	}
	if s := mustJSON(get(t, fn, "Properties", "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination")); s != ownOrCentralTopic {
		t.Errorf("failure destination = %s", s)
	}
	input := get(t, fn, "Properties", "Events", "DailyAudit", "Properties", "Input").(string)
	if _, err := json.Marshal(input); err != nil || !strings.Contains(input, "detail-type") {
		t.Errorf("the schedule's input %q is not an event the handler accepts as scheduled", input)
	}
	if k := mustJSON(get(t, res, "AlertTopic", "Properties", "KmsMasterKeyId")); k != `{"Ref":"AlertKey"}` {
		t.Errorf("topic encryption = %s", k)
	}
	keyPolicy := mustJSON(get(t, res, "AlertKey", "Properties", "KeyPolicy"))
	if !strings.Contains(keyPolicy, "cloudwatch.amazonaws.com") || !strings.Contains(keyPolicy, `{"Fn::GetAtt":["AuditFunctionRole","Arn"]}`) {
		t.Errorf("the key policy must name every publisher (the function and its failure destination, the error alarm): %s", keyPolicy)
	}
	if a := mustJSON(get(t, res, "AuditErrorsAlarm", "Properties", "AlarmActions")); a != "["+ownOrCentralTopic+"]" {
		t.Errorf("alarm actions = %s", a)
	}
	for name, cond := range map[string]string{"AlertEmailSubscription": "HasAlertEmail", "SlackAlerts": "HasSlack"} {
		if got := get(t, res, name, "Condition"); got != cond {
			t.Errorf("%s condition = %v, want %s", name, got, cond)
		}
	}
	for _, out := range []string{"AuditFunctionName", "AlertTopicArn"} {
		get(t, tpl, "Outputs", out)
	}
	for _, p := range []string{"AlertEmail", "SlackWorkspaceId", "SlackChannelId", "AuditRegions", "NotifyOn", "MinSeverity", "SuppressRoles"} {
		get(t, tpl, "Parameters", p)
	}
}

// TestBuildArtifact runs the target that sam build runs and checks the
// artifact: a static arm64 ELF named bootstrap.
func TestBuildArtifact(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("make", "-s", "build-AuditFunction", "ARTIFACTS_DIR="+dir)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build-AuditFunction: %v\n%s", err, out)
	}
	f, err := elf.Open(filepath.Join(dir, "bootstrap"))
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %v %v, want an arm64 executable", f.Machine, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("bootstrap is dynamically linked (%v)", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("bootstrap imports %v", libs)
	}
}

// resolveIntrinsics stands in a string for each intrinsic function (Ref,
// Fn::GetAtt, Fn::Sub...), as CloudFormation would resolve it to a
// specific ARN: never "*".
func resolveIntrinsics(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					if s, ok := arg.(string); ok && k == "Fn::Sub" {
						return s
					}
					return "arn:resolved:" + k + ":" + mustJSON(arg)
				}
			}
		}
		out := map[string]any{}
		for k, val := range x {
			out[k] = resolveIntrinsics(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = resolveIntrinsics(val)
		}
		return out
	}
	return v
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// interfaceActions lists "service:Method" for every method of the client
// interfaces a face of the tool uses.
func interfaceActions(service string, ifaces ...any) []string {
	var out []string
	for _, i := range ifaces {
		t := reflect.TypeOf(i).Elem()
		for m := range t.NumMethod() {
			out = append(out, service+":"+t.Method(m).Name)
		}
	}
	return out
}

func policyFile(t *testing.T, name string) (*policy.Document, map[string]bool) {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := policy.ParseJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	actions := map[string]bool{}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			actions[a] = true
		}
	}
	return doc, actions
}

// TestCLIPolicies: the policy to run the command line live is read-only
// and passes the audit's own rules; it and the remediate policy allow
// every call the code makes, and nothing the code does not call.
func TestCLIPolicies(t *testing.T) {
	doc, actions := policyFile(t, "cli-policy.json")
	self := policy.Subject{ARN: "arn:aws:iam::123456789012:role/auditor"}
	if a := policy.Judge(policy.Locate(doc, 0, "cli-policy.json"), self); len(a.Grants) > 0 {
		t.Errorf("cli-policy.json grants %s: %s", a.Grants[0].Class, a.Grants[0].Reason)
	}
	want := append(interfaceActions("iam", (*inventory.IAMAPI)(nil)), interfaceActions("lambda", (*inventory.LambdaAPI)(nil))...)
	want = append(want, interfaceActions("ec2", (*inventory.RegionAPI)(nil))...)
	want = append(want, interfaceActions("elasticfilesystem", (*inventory.EFSAPI)(nil))...)
	want = append(want, interfaceActions("cloudtrail", (*usage.CloudTrailAPI)(nil))...)
	checkExactly(t, "cli-policy.json", actions, want)
	for a := range actions {
		if !strings.Contains(a, ":Get") && !strings.Contains(a, ":List") && !strings.Contains(a, ":Describe") && !strings.Contains(a, ":Lookup") {
			t.Errorf("cli-policy.json allows %s, which is not a read", a)
		}
	}

	// The Security Hub export, for --security-hub (its account id is a
	// placeholder to replace).
	_, actions = policyFile(t, "cli-securityhub-policy.json")
	checkExactly(t, "cli-securityhub-policy.json", actions, interfaceActions("securityhub", (*asff.API)(nil)))

	_, actions = policyFile(t, "remediate-policy.json")
	want = append(interfaceActions("iam", (*remediation.IAMAPI)(nil)), interfaceActions("lambda", (*remediation.LambdaAPI)(nil))...)
	want = append(want, interfaceActions("sts", (*remediation.STSAPI)(nil))...)
	want = append(want, interfaceActions("elasticfilesystem", (*inventory.EFSAPI)(nil))...)
	want = append(want, interfaceActions("cloudtrail", (*usage.CloudTrailAPI)(nil))...)
	// CreateRole with tags needs iam:TagRole, and switching a function's
	// role needs iam:PassRole on it.
	want = append(want, "iam:TagRole", "iam:PassRole")
	checkExactly(t, "remediate-policy.json", actions, want)
}

func checkExactly(t *testing.T, name string, got map[string]bool, want []string) {
	t.Helper()
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w] = true
		if !got[w] {
			t.Errorf("%s lacks %s, which the code calls", name, w)
		}
	}
	for g := range got {
		if !wanted[g] {
			t.Errorf("%s allows %s, which the code does not call", name, g)
		}
	}
}

// TestREADMEEventsMatchFiles: each event the README shows for the console's
// Test button is, byte for byte, the file in deploy/events/ it names.
func TestREADMEEventsMatchFiles(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	files, err := filepath.Glob("events/manual-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manual events: %v", err)
	}
	for _, f := range files {
		name := "deploy/" + f
		at := strings.Index(text, "`"+name+"`")
		if at < 0 {
			t.Errorf("README does not show %s", name)
			continue
		}
		rest := text[at:]
		open := strings.Index(rest, "```json\n")
		end := strings.Index(rest[open+len("```json\n"):], "```")
		if open < 0 || end < 0 {
			t.Errorf("README shows no JSON block after %s", name)
			continue
		}
		var shown []string
		for _, line := range strings.Split(rest[open+len("```json\n"):open+len("```json\n")+end], "\n") {
			shown = append(shown, strings.TrimPrefix(line, "  "))
		}
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(strings.Join(shown, "\n")); got != strings.TrimSpace(string(want)) {
			t.Errorf("README's %s differs from the file:\nREADME:\n%s\nfile:\n%s", name, got, want)
		}
	}
}

// resourcesOfType lists a template's resources of one type by logical id.
func resourcesOfType(t *testing.T, tpl map[string]any, typ string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for id, r := range get(t, tpl, "Resources").(map[string]any) {
		if get(t, r, "Type") == typ {
			out[id] = r
		}
	}
	return out
}

// TestTransformedTemplate checks what CloudFormation deploys.
func TestTransformedTemplate(t *testing.T) {
	tpl := decodeTemplate(t, templatePath, true)
	res := get(t, tpl, "Resources").(map[string]any)

	// Two stacks side by side: CloudFormation names the schedule.
	schedules := resourcesOfType(t, tpl, "AWS::Scheduler::Schedule")
	if len(schedules) != 1 {
		t.Fatalf("schedules: %d", len(schedules))
	}
	for id, s := range schedules {
		props := get(t, s, "Properties").(map[string]any)
		if name, ok := props["Name"]; ok {
			t.Errorf("schedule %s is named %v: two stacks in one account would collide", id, name)
		}
		target := mustJSON(props["Target"])
		for _, want := range []string{`"DeadLetterConfig":{"Arn":{"Fn::GetAtt":["ScheduleDeadLetterQueue","Arn"]}}`, `"RoleArn":{"Fn::GetAtt":["SchedulerRole","Arn"]}`} {
			if !strings.Contains(target, want) {
				t.Errorf("schedule target lacks %s: %s", want, target)
			}
		}
		if tz := mustJSON(props["ScheduleExpressionTimezone"]); tz != `{"Ref":"ScheduleTimezone"}` {
			t.Errorf("schedule time zone = %s", tz)
		}
	}
	trust := mustJSON(get(t, res, "SchedulerRole", "Properties", "AssumeRolePolicyDocument"))
	if !strings.Contains(trust, "scheduler.amazonaws.com") || !strings.Contains(trust, `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`) {
		t.Errorf("the scheduler's role must trust this account's scheduler only: %s", trust)
	}

	// Silence is an alarm: the schedule's dead letters and a missing run.
	for id, want := range map[string][]string{
		"ScheduleDeadLetterAlarm": {`"MetricName":"ApproximateNumberOfMessagesVisible"`, `"AlarmActions":[` + ownOrCentralTopic + `]`, `"Fn::GetAtt":["ScheduleDeadLetterQueue","QueueName"]`},
		"AuditHeartbeatAlarm":     {`"MetricName":"Invocations"`, `"ComparisonOperator":"LessThanThreshold"`, `"TreatMissingData":"breaching"`, `"AlarmActions":[` + ownOrCentralTopic + `]`, `"EvaluationPeriods":{"Ref":"HeartbeatHours"}`},
	} {
		props := mustJSON(get(t, res, id, "Properties"))
		for _, w := range want {
			if !strings.Contains(props, w) {
				t.Errorf("%s lacks %s: %s", id, w, props)
			}
		}
	}

	fn := get(t, res, "AuditFunction", "Properties")
	if rc := mustJSON(get(t, fn, "ReservedConcurrentExecutions")); rc != `{"Fn::If":["HasReservedConcurrency",{"Ref":"ReservedConcurrency"},{"Ref":"AWS::NoValue"}]}` {
		t.Errorf("reserved concurrency = %s", rc)
	}
	if d := get(t, tpl, "Parameters", "ReservedConcurrency", "Default"); d != "1" {
		t.Errorf("reserved concurrency default = %v", d)
	}
	if timeout, memory := get(t, fn, "Timeout"), get(t, fn, "MemorySize"); mustJSON(timeout) != "900" || mustJSON(memory) != "512" {
		t.Errorf("timeout %v, memory %v", timeout, memory)
	}

	// State that outlives the stack: the key and the log (the account's
	// privilege map), the log encrypted with the key.
	for _, id := range []string{"AlertKey", "AuditLogGroup"} {
		if get(t, res, id, "DeletionPolicy") != "Retain" || get(t, res, id, "UpdateReplacePolicy") != "Retain" {
			t.Errorf("%s is not retained", id)
		}
	}
	if k := mustJSON(get(t, res, "AuditLogGroup", "Properties", "KmsKeyId")); k != `{"Fn::GetAtt":["AlertKey","Arn"]}` {
		t.Errorf("log group key = %s", k)
	}
	keyPolicy := mustJSON(get(t, res, "AlertKey", "Properties", "KeyPolicy"))
	if !strings.Contains(keyPolicy, `"kms:EncryptionContext:aws:logs:arn":{"Fn::Sub":"arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${AWS::StackName}-audit"}`) {
		t.Errorf("the key policy must let CloudWatch Logs use the key for the audit's log group only: %s", keyPolicy)
	}
	// Publishing to the encrypted topic needs kms:GenerateDataKey and
	// kms:Decrypt for the function's role, through SNS: the key policy
	// grants them by naming the role, so no role statement names a key.
	if !strings.Contains(keyPolicy, `{"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Condition":{"StringEquals":{"kms:ViaService":{"Fn::Sub":"sns.${AWS::Region}.${AWS::URLSuffix}"}}},"Effect":"Allow","Principal":{"AWS":{"Fn::GetAtt":["AuditFunctionRole","Arn"]}}`) {
		t.Errorf("the key policy must let the function's role publish through SNS: %s", keyPolicy)
	}

	// Every role: the permissions boundary when one is given, and no KMS
	// statement of its own (the central topic's key, in another account,
	// is the one exception: TestOrganizationMember).
	for id, r := range resourcesOfType(t, tpl, "AWS::IAM::Role") {
		if b := mustJSON(get(t, r, "Properties", "PermissionsBoundary")); b != `{"Fn::If":["HasBoundary",{"Ref":"PermissionsBoundary"},{"Ref":"AWS::NoValue"}]}` {
			t.Errorf("role %s: permissions boundary = %s", id, b)
		}
	}
	for id, r := range resourcesOfType(t, deployed(t, tpl, nil), "AWS::IAM::Role") {
		if p := mustJSON(get(t, r, "Properties").(map[string]any)["Policies"]); strings.Contains(p, `"kms:`) {
			t.Errorf("role %s has a KMS statement (Security Hub KMS.2): %s", id, p)
		}
	}

	// Slack: both ids or neither, and only where the service exists.
	rule := mustJSON(get(t, tpl, "Rules", "SlackNeedsBothIds"))
	if !strings.Contains(rule, "SlackWorkspaceId") || !strings.Contains(rule, "SlackChannelId") {
		t.Errorf("Slack rule = %s", rule)
	}
	if c := mustJSON(get(t, tpl, "Conditions", "HasSlack")); !strings.Contains(c, `{"Fn::Equals":[{"Ref":"AWS::Partition"},"aws"]}`) {
		t.Errorf("HasSlack must require the aws partition: %s", c)
	}
	if typ := get(t, res, "SlackAlerts", "Type"); typ != "AWS::CloudFormation::Stack" {
		t.Errorf("SlackAlerts is %v", typ)
	}

	// Publishable in the Serverless Application Repository.
	meta := get(t, tpl, "Metadata", "AWS::ServerlessRepo::Application").(map[string]any)
	for _, k := range []string{"Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl", "Labels", "HomePageUrl", "SemanticVersion", "SourceCodeUrl"} {
		if _, ok := meta[k]; !ok {
			t.Errorf("ServerlessRepo metadata lacks %s", k)
		}
	}
	license, err := os.ReadFile(filepath.Join("..", meta["LicenseUrl"].(string)))
	if err != nil || meta["SpdxLicenseId"] != "Apache-2.0" || !strings.Contains(string(license), "Apache License") {
		t.Errorf("license %v: %v", meta["SpdxLicenseId"], err)
	}
}

// TestSlackTemplate: the nested Slack stack gives the chat service a
// read-only role with read-only guardrails.
func TestSlackTemplate(t *testing.T) {
	tpl := decodeTemplate(t, "slack.yaml", false)
	res := get(t, tpl, "Resources").(map[string]any)
	guard := mustJSON(get(t, res, "SlackChannel", "Properties", "GuardrailPolicies"))
	if strings.Contains(guard, "AdministratorAccess") || !strings.Contains(guard, "ReadOnly") {
		t.Errorf("guardrails = %s", guard)
	}
	if b := mustJSON(get(t, res, "ChatbotRole", "Properties", "PermissionsBoundary")); !strings.Contains(b, "HasBoundary") {
		t.Errorf("chat role boundary = %s", b)
	}
}

// TestCfnLintEverywhere: informational checks included, and the template
// in a commercial, a GovCloud and a China region (where Slack is left out).
func TestCfnLintEverywhere(t *testing.T) {
	testenv.Require(t, "cfn-lint")
	for _, args := range [][]string{
		{"-c", "I", "--", templatePath},
		{"-c", "I", "--", "slack.yaml"},
		{"--regions", "us-east-1", "us-gov-west-1", "cn-north-1", "--", templatePath},
	} {
		if out, err := exec.Command("cfn-lint", args...).CombinedOutput(); err != nil {
			t.Errorf("cfn-lint %v: %v\n%s", args, err, out)
		}
	}
}

// TestParametersAreCheckedAtDeployTime: every free-text parameter has a
// pattern that takes its default and good values and refuses bad ones.
// (CloudFormation's patterns are Java regular expressions; these use no
// feature where Go's differ.)
func TestParametersAreCheckedAtDeployTime(t *testing.T) {
	tpl := loadTemplate(t)
	tests := map[string]struct{ good, bad []string }{
		"AlertEmail":         {[]string{"", "sec@example.com"}, []string{"sec", "a@b", "a b@c.d", "x@y.z,w@v.u"}},
		"SlackWorkspaceId":   {[]string{"", "T0123ABCDEF"}, []string{"t0123abcdef", "T01", "T0123 ABCDEF"}},
		"SlackChannelId":     {[]string{"", "C0123ABCDEF"}, []string{"#alerts", "C01"}},
		"AuditRegions":       {[]string{"", "us-east-1", "us-east-1,eu-west-1", "us-gov-west-1"}, []string{"us-east-1, eu-west-1", "us-east-1,", ",", "moon"}},
		"ScheduleExpression": {[]string{"rate(1 day)", "rate(12 hours)", "cron(0 6 * * ? *)"}, []string{"daily", "rate(1 week)", "cron(0 6 * *)"}},
		"ScheduleTimezone":   {[]string{"UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"}, []string{"", "Europe Paris"}},
		"SuppressRoles":      {[]string{"", "break-glass", "break-glass,arn:aws:iam::123456789012:role/legacy"}, []string{"a, b", "a,,b"}},
		"PermissionsBoundary": {[]string{"", "arn:aws:iam::123456789012:policy/boundary", "arn:aws-us-gov:iam::aws:policy/PowerUserAccess"},
			[]string{"boundary", "arn:aws:iam::123:policy/x"}},
		"ReservedConcurrency": {[]string{"", "1", "10"}, []string{"-1", "one"}},
	}
	for name, tt := range tests {
		param := get(t, tpl, "Parameters", name).(map[string]any)
		pattern, ok := param["AllowedPattern"].(string)
		if !ok || param["ConstraintDescription"] == nil {
			t.Errorf("%s has no AllowedPattern and ConstraintDescription", name)
			continue
		}
		re, err := regexp.Compile(`\A(?:` + pattern + `)\z`)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d, ok := param["Default"].(string); ok && !re.MatchString(d) {
			t.Errorf("%s: the default %q does not match its own pattern", name, d)
		}
		for _, g := range tt.good {
			if !re.MatchString(g) {
				t.Errorf("%s refuses %q", name, g)
			}
		}
		for _, b := range tt.bad {
			if re.MatchString(b) {
				t.Errorf("%s accepts %q", name, b)
			}
		}
	}
}
