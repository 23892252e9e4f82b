package remediation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
)

var seen = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func obs(action string, resources ...string) audit.ObservedAction {
	return audit.ObservedAction{Action: action, Resources: resources, Count: 1, LastSeen: seen}
}

// TestObservedPolicy: per service, one statement per set of resources;
// "*" only where the evidence says so (actions with no resource type); an
// action seen without a resource is left out and named.
func TestObservedPolicy(t *testing.T) {
	secret := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-??????"
	param := "arn:aws:ssm:eu-west-1:123456789012:parameter/app/config"
	key := "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	doc, unscoped := ObservedPolicy([]audit.ObservedAction{
		obs("secretsmanager:GetSecretValue", secret), obs("secretsmanager:DescribeSecret", secret),
		obs("ssm:GetParameter", param), obs("kms:Decrypt", key), obs("sts:GetCallerIdentity", "*"),
		obs("events:PutRule"),
	})
	want := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"ObservedKms","Effect":"Allow","Action":["kms:Decrypt"],"Resource":["` + key + `"]},` +
		`{"Sid":"ObservedSecretsmanager","Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue"],"Resource":["` + secret + `"]},` +
		`{"Sid":"ObservedSsm","Effect":"Allow","Action":["ssm:GetParameter"],"Resource":["` + param + `"]},` +
		`{"Sid":"ObservedSts","Effect":"Allow","Action":["sts:GetCallerIdentity"],"Resource":["*"]}]}`
	if string(doc) != want {
		t.Errorf("policy\n got %s\nwant %s", doc, want)
	}
	if len(unscoped) != 1 || unscoped[0] != "events:PutRule" {
		t.Errorf("unscoped %v", unscoped)
	}
	// Two actions of one service on different resources: two statements.
	doc, _ = ObservedPolicy([]audit.ObservedAction{obs("ssm:GetParameter", param), obs("ssm:PutParameter", param+"2")})
	if n := strings.Count(string(doc), `"Sid"`); n != 2 || !strings.Contains(string(doc), `"ObservedSsm2"`) {
		t.Errorf("per resource set: %s", doc)
	}
	if doc, _ := ObservedPolicy([]audit.ObservedAction{obs("events:PutRule")}); doc != nil {
		t.Errorf("nothing grantable: %s", doc)
	}
}

// TestObservedPolicySplit: a policy too large to sit inline beside the
// plan's own is split into managed-policy-sized parts, statements whole;
// together the parts hold every statement.
func TestObservedPolicySplit(t *testing.T) {
	var observed []audit.ObservedAction
	for i := range 120 {
		observed = append(observed, obs(fmt.Sprintf("ssm:GetParameter%03d", i), fmt.Sprintf("arn:aws:ssm:eu-west-1:123456789012:parameter/application/configuration/%03d", i)))
	}
	p := New(inventory.Function{ARN: "arn:aws:lambda:eu-west-1:123456789012:function:orders", Name: "orders", Region: "eu-west-1",
		RoleARN: "arn:aws:iam::123456789012:role/shared", DeadLetter: "arn:aws:sqs:eu-west-1:123456789012:dlq"}, nil, true)
	AddEvidence(&p, observed, audit.UsageWindow{Days: 30, CallsMade: 3, Events: 120, Regions: []string{"eu-west-1", "us-east-1"}})
	if len(p.ObservedPolicy) <= RoleInlineLimit-len(compact(p.InlinePolicy)) || len(p.ObservedPolicyParts) < 2 {
		t.Fatalf("policy of %d characters, %d parts", len(p.ObservedPolicy), len(p.ObservedPolicyParts))
	}
	statements := 0
	for _, part := range p.ObservedPolicyParts {
		var d document
		if err := json.Unmarshal(part, &d); err != nil || len(part) > ManagedPolicyLimit {
			t.Fatalf("part of %d characters: %v", len(part), err)
		}
		statements += len(d.Statement)
	}
	if statements != 120 {
		t.Errorf("parts hold %d statements, want 120", statements)
	}
	cli := CLI(p)
	if strings.Count(cli, "aws iam create-policy --policy-name "+p.RoleName+"-observed-usage-") != len(p.ObservedPolicyParts) || strings.Contains(cli, "--policy-name observed-usage ") {
		t.Errorf("split policy as managed policies:\n%s", cli)
	}
	if _, err := (&Applier{WithObserved: true}).inlinePolicies(p); err == nil || !strings.Contains(err.Error(), "managed policies") {
		t.Errorf("--with-observed on a split policy: %v", err)
	}
}

// TestEvidenceNotes: with evidence, the blanket warning gives way to what
// was observed, how, and what could not be; each format carries the
// observed-usage policy, marked as drafted from CloudTrail.
func TestEvidenceNotes(t *testing.T) {
	fn := inventory.Function{ARN: "arn:aws:lambda:eu-west-1:123456789012:function:orders", Name: "orders", Region: "eu-west-1",
		RoleARN:    "arn:aws:iam::123456789012:role/shared",
		References: []inventory.Reference{{Source: "env:TABLE", Resource: "arn:aws:dynamodb:eu-west-1:123456789012:table/orders"}}}
	p := New(fn, nil, true)
	if len(p.Referenced) != 1 || !strings.Contains(strings.Join(p.Unknowns, " "), "Its environment points at arn:aws:dynamodb:eu-west-1:123456789012:table/orders (env:TABLE)") {
		t.Fatalf("referenced %+v, unknowns %q", p.Referenced, p.Unknowns)
	}
	AddEvidence(&p, []audit.ObservedAction{obs("ssm:GetParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/x")},
		audit.UsageWindow{Days: 30, CallsMade: 100, CutShort: true, Events: 1, Regions: []string{"eu-west-1", "us-east-1"}, Errors: []string{"us-east-1: cloudtrail:LookupEvents: AccessDeniedException: denied"}})
	notes := strings.Join(p.Unknowns, "\n")
	for _, want := range []string{"Observed in CloudTrail event history over 30 days", "Observed calls: ssm: GetParameter on arn:aws:ssm:eu-west-1:123456789012:parameter/x.", "drafted as the inline policy observed-usage", "stopped at its budget of 100 calls",
		"Not read: us-east-1: cloudtrail:LookupEvents: AccessDeniedException", "Event history holds management events only; its environment points at arn:aws:dynamodb", "(dynamodb)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, DataAccessUnknown) {
		t.Error("the blanket warning stays once evidence is in")
	}
	for _, format := range Formats {
		out, _ := Render(p, format)
		if !strings.Contains(out, "from CloudTrail, the last 30 days (1 events, cut short at the call budget); review before use") || !strings.Contains(out, "observed-usage") {
			t.Errorf("%s lacks the observed-usage policy:\n%s", format, out)
		}
	}
}

// TestReferencedOrder: the same function gets the same plan whatever order
// its event source mappings were listed in.
func TestReferencedOrder(t *testing.T) {
	fn := inventory.Function{ARN: "arn:aws:lambda:us-east-1:123456789012:function:w", Name: "w", Region: "us-east-1", RoleARN: "arn:aws:iam::123456789012:role/r"}
	a := inventory.EventSourceMapping{UUID: "1", EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:orders"}
	b := inventory.EventSourceMapping{UUID: "2", EventSourceARN: "arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/x"}
	one, _ := json.Marshal(New(fn, []inventory.EventSourceMapping{a, b}, true))
	two, _ := json.Marshal(New(fn, []inventory.EventSourceMapping{b, a}, true))
	if string(one) != string(two) {
		t.Errorf("plans differ with the mappings' order:\n%s\n%s", one, two)
	}
}
