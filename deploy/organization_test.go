package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/asff"
)

// TestOrganizationTemplatesLint: the organization's templates, and
// template.yaml as an organization member deploys it.
func TestOrganizationTemplatesLint(t *testing.T) {
	testenv.Require(t, "cfn-lint")
	for _, args := range [][]string{
		{"--", "organization.yaml"},
		{"--", "central-alerts.yaml"},
		{"--parameters", "CentralTopicArn=" + centralTopic, "CentralTopicKeyArn=" + centralKey, "SecurityHub=Enabled", "--", templatePath},
		{"--parameters", "SecurityHub=Enabled", "--", templatePath},
	} {
		if out, err := exec.Command("cfn-lint", args...).CombinedOutput(); err != nil {
			t.Errorf("cfn-lint %v: %v\n%s", args, err, out)
		}
	}
}

// TestOrganizationStackSet: service-managed with automatic deployment, and
// every parameter it passes is one of template.yaml's (subscriptions are
// the central topic's, so none is passed).
func TestOrganizationStackSet(t *testing.T) {
	org := decodeTemplate(t, "organization.yaml", false)
	sets := resourcesOfType(t, org, "AWS::CloudFormation::StackSet")
	if len(sets) != 1 {
		t.Fatalf("%d stack sets", len(sets))
	}
	app := get(t, decodeTemplate(t, templatePath, false), "Parameters").(map[string]any)
	for _, set := range sets {
		props := get(t, set, "Properties")
		if get(t, props, "PermissionModel") != "SERVICE_MANAGED" || get(t, props, "AutoDeployment", "Enabled") != true ||
			get(t, props, "AutoDeployment", "RetainStacksOnAccountRemoval") != false {
			t.Errorf("stack set: %s", mustJSON(props))
		}
		if caps := mustJSON(get(t, props, "Capabilities")); strings.Contains(caps, "AUTO_EXPAND") {
			t.Errorf("a service-managed stack set cannot run transforms: %s", caps)
		}
		for _, p := range get(t, props, "Parameters").([]any) {
			key := get(t, p, "ParameterKey").(string)
			if _, ok := app[key]; !ok {
				t.Errorf("the stack set passes %s, which template.yaml does not have", key)
			}
			if strings.HasPrefix(key, "Slack") || key == "AlertEmail" {
				t.Errorf("the stack set passes %s: subscriptions belong to the central topic", key)
			}
			if ref := mustJSON(get(t, p, "ParameterValue")); ref != `{"Ref":"`+key+`"}` {
				t.Errorf("%s is passed as %s, not from the parameter of the same name", key, ref)
			}
		}
	}
}

// TestCentralAlerts: the organization's accounts may publish (and use the
// key, through SNS only), and no one else: every statement that names
// another principal is bounded by the organization.
func TestCentralAlerts(t *testing.T) {
	tpl := decodeTemplate(t, "central-alerts.yaml", false)
	res := get(t, tpl, "Resources").(map[string]any)
	check := func(name string, doc any, wantActions ...string) {
		var found []string
		for _, st := range get(t, doc, "Statement").([]any) {
			principal := mustJSON(get(t, st, "Principal"))
			cond := mustJSON(st.(map[string]any)["Condition"])
			switch {
			case strings.Contains(principal, `"AWS":"*"`):
				if !strings.Contains(cond, `"aws:PrincipalOrgID":{"Ref":"OrganizationId"}`) {
					t.Errorf("%s: %s lets anyone in: %s", name, get(t, st, "Sid"), cond)
				}
				found = append(found, mustJSON(get(t, st, "Action")))
			case strings.Contains(principal, "cloudwatch.amazonaws.com"):
				if !strings.Contains(cond, `"aws:SourceOrgID":{"Ref":"OrganizationId"}`) {
					t.Errorf("%s: %s lets any account's alarms in: %s", name, get(t, st, "Sid"), cond)
				}
			case strings.Contains(principal, ":root"):
			default:
				t.Errorf("%s: unexpected principal %s", name, principal)
			}
		}
		if !reflect.DeepEqual(found, wantActions) {
			t.Errorf("%s: the organization may do %v, want %v", name, found, wantActions)
		}
	}
	check("topic policy", get(t, res, "CentralTopicPolicy", "Properties", "PolicyDocument"), `"sns:Publish"`)
	keyPolicy := get(t, res, "CentralKey", "Properties", "KeyPolicy")
	check("key policy", keyPolicy, `["kms:Decrypt","kms:GenerateDataKey*"]`)
	if !strings.Contains(mustJSON(keyPolicy), `"kms:ViaService":{"Fn::Sub":"sns.${AWS::Region}.${AWS::URLSuffix}"}`) {
		t.Error("the organization may use the key through SNS only")
	}
	if k := mustJSON(get(t, res, "CentralTopic", "Properties", "KmsMasterKeyId")); k != `{"Ref":"CentralKey"}` {
		t.Errorf("central topic key = %s", k)
	}
	for _, out := range []string{"CentralTopicArn", "CentralTopicKeyArn"} {
		if _, ok := get(t, decodeTemplate(t, templatePath, false), "Parameters").(map[string]any)[out]; !ok {
			t.Errorf("central-alerts.yaml outputs %s, which template.yaml does not take", out)
		}
		get(t, tpl, "Outputs", out)
	}
}

// TestOrganizationMember: with a central topic, the stack has no topic of
// its own and every alert, alarm and failed run goes to the central one;
// the function's role may publish only there, use only its key, and reach
// Security Hub only when it is on, with exactly the actions the code calls
// on this account's own product and hub.
func TestOrganizationMember(t *testing.T) {
	tpl := loadTemplate(t)
	member := deployed(t, tpl, deployVariants["organization member"])
	res := get(t, member, "Resources").(map[string]any)
	for _, id := range []string{"AlertTopic", "AlertTopicPolicy", "AlertEmailSubscription", "SlackAlerts"} {
		if _, ok := res[id]; ok {
			t.Errorf("an organization member's stack has %s", id)
		}
	}
	central := `{"Ref":"CentralTopicArn"}`
	fn := get(t, res, "AuditFunction", "Properties")
	for path, v := range map[string]any{
		"Environment.Variables.ALERT_TOPIC_ARN":     get(t, fn, "Environment", "Variables", "ALERT_TOPIC_ARN"),
		"EventInvokeConfig...OnFailure.Destination": get(t, fn, "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination"),
		"AuditErrorsAlarm.AlarmActions[0]":          get(t, res, "AuditErrorsAlarm", "Properties", "AlarmActions").([]any)[0],
		"AuditHeartbeatAlarm.AlarmActions[0]":       get(t, res, "AuditHeartbeatAlarm", "Properties", "AlarmActions").([]any)[0],
		"ScheduleDeadLetterAlarm.AlarmActions[0]":   get(t, res, "ScheduleDeadLetterAlarm", "Properties", "AlarmActions").([]any)[0],
		"Outputs.AlertTopicArn":                     get(t, member, "Outputs", "AlertTopicArn", "Value"),
	} {
		if mustJSON(v) != central {
			t.Errorf("%s = %s, want the central topic", path, mustJSON(v))
		}
	}
	if v := get(t, fn, "Environment", "Variables", "SECURITY_HUB"); v != "on" {
		t.Errorf("SECURITY_HUB = %v", v)
	}
	grants := roleGrants(t, res)
	want := map[string]string{
		"sns:Publish":                     central,
		"kms:GenerateDataKey":             `{"Ref":"CentralTopicKeyArn"}`,
		"kms:Decrypt":                     `{"Ref":"CentralTopicKeyArn"}`,
		"securityhub:BatchImportFindings": `{"Fn::Sub":"arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"}`,
		"securityhub:GetFindings":         `{"Fn::Sub":"arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default"}`,
	}
	for action, resource := range want {
		if grants[action] != resource {
			t.Errorf("%s on %s, want %s", action, grants[action], resource)
		}
	}
	var hub []string
	for action := range grants {
		if strings.HasPrefix(action, "securityhub:") {
			hub = append(hub, action)
		}
	}
	code := interfaceActions("securityhub", (*asff.API)(nil))
	sort.Strings(hub)
	sort.Strings(code)
	if !slices.Equal(hub, code) {
		t.Errorf("the role's Security Hub actions %v, the code calls %v", hub, code)
	}

	own := roleGrants(t, get(t, deployed(t, tpl, nil), "Resources").(map[string]any))
	for action := range own {
		if strings.HasPrefix(action, "securityhub:") || strings.HasPrefix(action, "kms:") {
			t.Errorf("with the defaults the role has %s", action)
		}
	}
	if own["sns:Publish"] != `{"Fn::Sub":"arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-alerts"}` {
		t.Errorf("with the defaults the role publishes to %s", own["sns:Publish"])
	}
}

// roleGrants maps each action of the function role's policies to its
// statement's resource.
func roleGrants(t *testing.T, res map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range functionRolePolicies(t, res) {
		for _, st := range get(t, p, "PolicyDocument", "Statement").([]any) {
			actions := get(t, st, "Action")
			if a, ok := actions.(string); ok {
				actions = []any{a}
			}
			for _, a := range actions.([]any) {
				out[a.(string)] = mustJSON(get(t, st, "Resource"))
			}
		}
	}
	return out
}

// TestTemplateRules: CloudFormation refuses a central topic without its
// key, and subscriptions given to a member stack (they belong to the
// central topic).
func TestTemplateRules(t *testing.T) {
	tpl := loadTemplate(t)
	for _, tt := range []struct {
		params map[string]string
		broken []string
	}{
		{nil, nil},
		{deployVariants["organization member"], nil},
		{map[string]string{"CentralTopicArn": centralTopic}, []string{"CentralTopicNeedsItsKey"}},
		{map[string]string{"CentralTopicArn": centralTopic, "CentralTopicKeyArn": centralKey, "AlertEmail": "sec@example.com"}, []string{"CentralTopicHasTheSubscriptions"}},
		{map[string]string{"SlackWorkspaceId": "T0123ABCDEF"}, []string{"SlackNeedsBothIds"}},
	} {
		if got := brokenRules(t, tpl, tt.params); !slices.Equal(got, tt.broken) {
			t.Errorf("%v: broken rules %v, want %v", tt.params, got, tt.broken)
		}
	}
}

// TestStackSetExpansion: what deploy/stackset-template.sh uploads is plain
// CloudFormation (no transform, no serverless resource) that cfn-lint
// accepts. (The nested Slack template's local path is what sam package
// replaces with its S3 URL, hence W3002 ignored.)
func TestStackSetExpansion(t *testing.T) {
	testenv.Require(t, "cfn-lint")
	out, err := exec.Command("python3", "expand_sam.py", templatePath, "eu-west-1").Output()
	if err != nil {
		t.Fatalf("expand: %v", err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(out, &tpl); err != nil {
		t.Fatal(err)
	}
	if _, ok := tpl["Transform"]; ok {
		t.Error("the expansion keeps a transform")
	}
	for id, r := range get(t, tpl, "Resources").(map[string]any) {
		if typ := get(t, r, "Type").(string); strings.HasPrefix(typ, "AWS::Serverless::") {
			t.Errorf("%s is still %s", id, typ)
		}
	}
	path := t.TempDir() + "/stackset-template.json"
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if lint, err := exec.Command("cfn-lint", "--ignore-checks", "W3002", "--", path).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint on the expansion: %v\n%s", err, lint)
	}
}
