package policy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestParseInputForms(t *testing.T) {
	const raw = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get+Object","Resource":"*"}}`
	encoded := url.PathEscape(raw) // RFC 3986: '+' stays '+' ... or %2B
	tests := []struct {
		name    string
		parse   func() (*Document, error)
		action  string
		wantErr string
	}{
		{"raw JSON string", func() (*Document, error) { return ParseString(raw) }, "s3:Get+Object", ""},
		{"URL-encoded string", func() (*Document, error) { return ParseString(encoded) }, "s3:Get+Object", ""},
		{"URL-encoded keeps literal plus", func() (*Document, error) {
			return ParseString(strings.ReplaceAll(url.QueryEscape(raw), "%2B", "+"))
		}, "s3:Get+Object", ""},
		{"JSON object", func() (*Document, error) { return ParseJSON(json.RawMessage(raw)) }, "s3:Get+Object", ""},
		{"JSON string holding encoded text", func() (*Document, error) {
			b, _ := json.Marshal(encoded)
			return ParseJSON(b)
		}, "s3:Get+Object", ""},
		{"double-encoded", func() (*Document, error) { return ParseString(url.PathEscape(encoded)) }, "", "double-encoded"},
		{"not JSON", func() (*Document, error) { return ParseString("{not json") }, "", "not valid JSON"},
		{"empty", func() (*Document, error) { return ParseString("  ") }, "", "empty"},
		{"number", func() (*Document, error) { return ParseJSON(json.RawMessage(`42`)) }, "", "must be a JSON object or string"},
		{"bad percent", func() (*Document, error) { return ParseString("%zz") }, "", "URL encoding"},
		{"huge", func() (*Document, error) { return ParseString(strings.Repeat(" ", MaxDocumentBytes+1)) }, "", "over the"},
		{"no statement", func() (*Document, error) { return ParseString(`{"Version":"2012-10-17"}`) }, "", "no Statement"},
		{"statement is a string", func() (*Document, error) { return ParseString(`{"Statement":"x"}`) }, "", "Statement must be"},
		{"action is a number", func() (*Document, error) {
			return ParseString(`{"Statement":[{"Effect":"Allow","Action":5,"Resource":"*"}]}`)
		}, "", "statement 0: Action must be"},
		{"bad effect", func() (*Document, error) {
			return ParseString(`{"Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}`)
		}, "", `Effect "Permit"`},
		{"no action", func() (*Document, error) {
			return ParseString(`{"Statement":[{"Effect":"Allow","Resource":"*"}]}`)
		}, "", "neither Action nor NotAction"},
		{"statement not object", func() (*Document, error) { return ParseString(`{"Statement":[1]}`) }, "", "statement 0: must be a JSON object"},
		{"syntax error position", func() (*Document, error) { return ParseString("{\n\"Statement\": [,]}") }, "", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := tt.parse()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(doc.Statement) != 1 || doc.Statement[0].Action[0] != tt.action {
				t.Fatalf("parsed %+v, want one statement with action %q", doc.Statement, tt.action)
			}
		})
	}
}

func TestMatchAction(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "iam:PutRolePolicy", true},
		{"iam:*", "iam:PutRolePolicy", true},
		{"IAM:put*", "iam:PutRolePolicy", true},
		{"iam:Put*Policy", "iam:PutRolePolicy", true},
		{"iam:?utRolePolicy", "iam:PutRolePolicy", true},
		{"iam:??tRolePolicy", "iam:PutRolePolicy", true},
		{"iam:Get*", "iam:PutRolePolicy", false},
		{"iam:PutRolePolicy?", "iam:PutRolePolicy", false},
		{"s3:*", "iam:PutRolePolicy", false},
		{"*Policy", "iam:PutRolePolicy", true},
		{"a*a*a*a*a*a*a*b", strings.Repeat("a", 200), false},
	}
	for _, tt := range tests {
		if got := MatchAction(tt.pattern, tt.action); got != tt.want {
			t.Errorf("MatchAction(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

// subject is the role the table tests judge: it has one customer-managed
// policy (app-x) and one AWS-managed policy attached.
var subject = Subject{
	ARN:             "arn:aws:iam::123456789012:role/app-role",
	ManagedPolicies: []string{"arn:aws:iam::123456789012:policy/app-x", "arn:aws:iam::aws:policy/ReadOnlyAccess"},
}

// judgeDocs parses each document (a list of statements) and judges them
// together, as the statements of one role's policies.
func judgeDocs(t *testing.T, docs ...string) Analysis {
	t.Helper()
	var stmts []Located
	for i, d := range docs {
		doc, err := ParseString(`{"Version":"2012-10-17","Statement":[` + d + `]}`)
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		stmts = append(stmts, Locate(doc, i, fmt.Sprintf("policy-%d", i))...)
	}
	return Judge(stmts, subject)
}

func TestJudgeClassifiesStatements(t *testing.T) {
	tests := []struct {
		name         string
		docs         []string
		want         Class // "" for no grant
		unrestricted bool
		cancels      bool
	}{
		{"admin star", []string{`{"Effect":"Allow","Action":"*","Resource":"*"}`}, ClassAdmin, true, false},
		{"admin star colon star", []string{`{"Effect":"Allow","Action":["s3:GetObject","*:*"],"Resource":["*"]}`}, ClassAdmin, true, false},
		{"admin double star", []string{`{"Effect":"Allow","Action":"**","Resource":"*"}`}, ClassAdmin, true, false},
		{"admin under condition", []string{`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`}, ClassAdmin, false, false},
		{"admin on narrow resource", []string{`{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::bucket/*"}`}, ClassAdmin, false, false},
		{"admin on resource pattern of stars", []string{`{"Effect":"Allow","Action":"*","Resource":"**"}`}, ClassAdmin, true, false},
		{"empty condition is no condition", []string{`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}`}, ClassAdmin, true, false},
		{"operator without keys is no condition", []string{`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{}}}`}, ClassAdmin, true, false},
		{"admin with no Resource element", []string{`{"Effect":"Allow","Action":"*"}`}, ClassAdmin, false, false},
		{"near-admin", []string{`{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}`}, ClassNearAdmin, true, false},
		{"NotAction star grants nothing", []string{`{"Effect":"Allow","NotAction":"*","Resource":"*"}`}, "", false, false},
		{"NotAction on narrow resource", []string{`{"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:s3:::b"}`}, "", false, false},
		{"NotAction with NotResource", []string{`{"Effect":"Allow","NotAction":"s3:*","NotResource":"arn:aws:s3:::nothing"}`}, ClassNearAdmin, false, false},
		{"admin with NotResource", []string{`{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::nothing"}`}, ClassAdmin, false, false},
		{"escalation with NotResource", []string{`{"Effect":"Allow","Action":"iam:*","NotResource":"arn:aws:s3:::nothing"}`}, ClassEscalation, false, false},
		{"NotResource excluding the role", []string{`{"Effect":"Allow","Action":"iam:PutRolePolicy","NotResource":"arn:aws:iam::123456789012:role/app-role"}`}, "", false, false},
		{"NotResource excluding everything", []string{`{"Effect":"Allow","Action":"*","NotResource":"*"}`}, "", false, false},
		{"escalation exact", []string{`{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"*"}`}, ClassEscalation, true, false},
		{"escalation iam star", []string{`{"Effect":"Allow","Action":"iam:*","Resource":"*"}`}, ClassEscalation, true, false},
		{"escalation wildcard", []string{`{"Effect":"Allow","Action":["iam:Put*"],"Resource":"*"}`}, ClassEscalation, true, false},
		{"escalation case-insensitive action", []string{`{"Effect":"Allow","Action":"IAM:attachrolepolicy","Resource":"*"}`}, ClassEscalation, true, false},
		{"escalation question mark", []string{`{"Effect":"Allow","Action":"iam:?reatePolicyVersion","Resource":"*"}`}, ClassEscalation, true, false},
		{"each escalation action", []string{`{"Effect":"Allow","Action":["iam:SetDefaultPolicyVersion","iam:UpdateAssumeRolePolicy","iam:DeleteRolePermissionsBoundary"],"Resource":"*"}`}, ClassEscalation, true, false},
		{"escalation on every role of any account", []string{`{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::*:role/*"}`}, ClassEscalation, false, false},
		{"escalation on arn:*", []string{`{"Effect":"Allow","Action":"iam:AttachRolePolicy","Resource":"arn:*"}`}, ClassEscalation, false, false},
		{"escalation on the account's roles", []string{`{"Effect":"Allow","Action":"iam:AttachRolePolicy","Resource":"arn:aws:iam::123456789012:role/*"}`}, ClassEscalation, false, false},
		{"escalation on the role itself", []string{`{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::123456789012:role/app-role"}`}, ClassEscalation, false, false},
		{"escalation with a ? in the role", []string{`{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::123456789012:role/app-rol?"}`}, ClassEscalation, false, false},
		{"role ARNs are case-sensitive", []string{`{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::123456789012:role/APP-ROLE"}`}, "", false, false},
		{"escalation on another role", []string{`{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::123456789012:role/other-*"}`}, "", false, false},
		{"escalation on another account", []string{`{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::999999999999:role/*"}`}, "", false, false},
		{"policy version on an attached policy pattern", []string{`{"Effect":"Allow","Action":"iam:CreatePolicyVersion","Resource":"arn:aws:iam::*:policy/app-*"}`}, ClassEscalation, false, false},
		{"policy version on every policy of the account", []string{`{"Effect":"Allow","Action":"iam:SetDefaultPolicyVersion","Resource":"arn:aws:iam::123456789012:policy/*"}`}, ClassEscalation, false, false},
		{"policy version on other policies", []string{`{"Effect":"Allow","Action":"iam:CreatePolicyVersion","Resource":"arn:aws:iam::123456789012:policy/other-*"}`}, "", false, false},
		{"AWS-managed policies cannot be changed", []string{`{"Effect":"Allow","Action":"iam:CreatePolicyVersion","Resource":"arn:aws:iam::aws:policy/*"}`}, "", false, false},
		{"read-only iam", []string{`{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}`}, "", false, false},
		{"service star", []string{`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`}, "", false, false},
		{"deny star", []string{`{"Effect":"Deny","Action":"*","Resource":"*"}`}, "", false, true},
		{"deny star colon star", []string{`{"Effect":"Deny","Action":"*:*","Resource":["*"]}`}, "", false, true},
		{"deny star cancels admin in another policy", []string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":"*"}`}, "", false, true},
		{"deny with condition does not cancel", []string{`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}`}, "", false, false},
		{"deny narrow does not cancel", []string{`{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::b"}`}, "", false, false},
		{"deny NotAction does not cancel", []string{`{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}`}, "", false, false},
		{"allow iam star, deny iam star", []string{`{"Effect":"Allow","Action":"iam:*","Resource":"*"}`, `{"Effect":"Deny","Action":"iam:*","Resource":"*"}`}, "", false, false},
		{"allow iam star, deny in the same policy", []string{`{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}`}, "", false, false},
		{"allow star, deny iam star: everything but IAM", []string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"iam:*","Resource":"*"}`}, ClassNearAdmin, true, false},
		{"allow star, conditional deny of iam", []string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"iam:*","Resource":"*","Condition":{"Bool":{"aws:ViaAWSService":"false"}}}`}, ClassAdmin, true, false},
		{"allow star, deny all but IAM", []string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}`}, ClassEscalation, true, false},
		{"deny removes the escalation on the role", []string{`{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"*"}`, `{"Effect":"Deny","Action":"iam:Put*","Resource":"arn:aws:iam::123456789012:role/app-role"}`}, "", false, false},
		{"deny of another role leaves the escalation", []string{`{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"*"}`, `{"Effect":"Deny","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::123456789012:role/other"}`}, ClassEscalation, true, false},
		{"deny of one bucket leaves near-admin", []string{`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::secret"}`}, ClassNearAdmin, true, false},
		{"deny of NotAction near-admin's rest", []string{`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`, `{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}`}, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := judgeDocs(t, tt.docs...)
			if (a.Cancel != nil) != tt.cancels {
				t.Errorf("cancel = %v, want %v", a.Cancel != nil, tt.cancels)
			}
			if tt.want == "" {
				if len(a.Grants) != 0 {
					t.Fatalf("grants = %+v, want none", a.Grants)
				}
				return
			}
			if len(a.Grants) != 1 {
				t.Fatalf("grants = %+v, want one %s", a.Grants, tt.want)
			}
			g := a.Grants[0]
			if g.Class != tt.want || g.Unrestricted != tt.unrestricted || g.Index != 0 || g.Doc != 0 || g.Reason == "" {
				t.Errorf("grant = %+v, want class %s unrestricted %v", g, tt.want, tt.unrestricted)
			}
		})
	}
}

func TestJudgeRecordsIndexAndSid(t *testing.T) {
	a := judgeDocs(t, `{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"FullAccess","Effect":"Allow","Action":["*"],"Resource":["*"]}`)
	if len(a.Grants) != 1 || a.Grants[0].Index != 1 || a.Grants[0].Sid != "FullAccess" {
		t.Fatalf("grants = %+v, want statement 1 with Sid FullAccess", a.Grants)
	}
	a = judgeDocs(t, `{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Action":"iam:*","Resource":"*"}`)
	if len(a.Grants) != 1 || !strings.Contains(a.Grants[0].Reason, "the Deny in policy-1 statement 0") {
		t.Fatalf("a near-admin reduced by a Deny must name it: %+v", a.Grants)
	}
}

// TestStrictKeys: whatever IAM would reject is an error naming the key,
// never a quietly different reading of the document.
func TestStrictKeys(t *testing.T) {
	tests := []struct{ doc, want string }{
		{`{"Statement":[{"Effect":"Allow","Action":"*","action":"s3:GetObject","Resource":"*"}]}`, `key "action" is not an IAM policy element (IAM element names are case-sensitive: "Action")`},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Action":"s3:GetObject","Resource":"*"}]}`, `key "Action" appears twice`},
		{`{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}]}`, "both Action and NotAction"},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"x"}]}`, "both Resource and NotResource"},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}]}`, `key "Extra" is not an IAM policy element`},
		{`{"statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, `policy document: key "statement"`},
		{`{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}`, `key "Version" appears twice`},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":"x"}}]}`, `Condition operator "StringEquals"`},
	}
	for _, tt := range tests {
		_, err := ParseString(tt.doc)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to say %q", tt.doc, err, tt.want)
		}
	}
	// Commas, braces and quotes inside strings and nested objects are not
	// members of their own.
	ok := `{"Version":"2012-10-17","Statement":[{"Sid":"a,b","Effect":"Allow","Action":["s3:Get,\"{x}\"","s3:List*"],` +
		`"Resource":"*","Condition":{"StringEquals":{"aws:a":"v,w","aws:b":["x","y"]}}}]}`
	if doc, err := ParseString(ok); err != nil || len(doc.Statement[0].Action) != 2 || !doc.Statement[0].HasCondition {
		t.Errorf("valid document rejected: %v", err)
	}
}

func TestLookupWellKnown(t *testing.T) {
	tests := []struct {
		arn   string
		known bool
		class Class
	}{
		{"arn:aws:iam::aws:policy/AdministratorAccess", true, ClassAdmin},
		{"arn:aws-us-gov:iam::aws:policy/AdministratorAccess", true, ClassAdmin},
		{"arn:aws:iam::aws:policy/PowerUserAccess", true, ClassNearAdmin},
		{"arn:aws:iam::aws:policy/IAMFullAccess", true, ClassEscalation},
		{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", true, ""},
		{"arn:aws:iam::123456789012:policy/AdministratorAccess", false, ""},
		{"arn:aws:iam::aws:policy/SomethingElse", false, ""},
		// A customer policy whose path spells an AWS-managed ARN is not one.
		{"arn:aws:iam::123456789012:policy/x:iam::aws:policy/ReadOnlyAccess", false, ""},
		{"arn:aws:iam::123456789012:policy/:iam::aws:policy/AdministratorAccess", false, ""},
		{"xarn:aws:iam::aws:policy/ReadOnlyAccess", false, ""},
		{"arn:aws:sts::aws:policy/ReadOnlyAccess", false, ""},
	}
	for _, tt := range tests {
		wk, ok := LookupWellKnown(tt.arn)
		if ok != tt.known {
			t.Errorf("%s: known = %v, want %v", tt.arn, ok, tt.known)
			continue
		}
		var got Class
		if a := Judge(Locate(&Document{Statement: wk.Statements}, 0, tt.arn), subject); len(a.Grants) > 0 {
			got = a.Grants[0].Class
		}
		if got != tt.class {
			t.Errorf("%s: class = %q, want %q", tt.arn, got, tt.class)
		}
	}
}

func TestParseJSONStringEdgeCases(t *testing.T) {
	for _, in := range []string{`"`, `""`, `"\"{}\""`, `"{\"Statement\":[]}"`} {
		_, _ = ParseJSON(json.RawMessage(in)) // must not panic
	}
	doc, err := ParseJSON(json.RawMessage(`"{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}"`))
	if err != nil || len(doc.Statement) != 1 {
		t.Fatalf("escaped JSON string: %v", err)
	}
}
