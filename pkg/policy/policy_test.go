package policy

import (
	"encoding/json"
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

func TestAnalyzeClassifiesStatements(t *testing.T) {
	tests := []struct {
		name         string
		statement    string
		want         Class // "" for no grant
		unrestricted bool
		cancels      bool
	}{
		{"admin star", `{"Effect":"Allow","Action":"*","Resource":"*"}`, ClassAdmin, true, false},
		{"admin star colon star", `{"Effect":"Allow","Action":["s3:GetObject","*:*"],"Resource":["*"]}`, ClassAdmin, true, false},
		{"admin under condition", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`, ClassAdmin, false, false},
		{"admin on narrow resource", `{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::bucket/*"}`, ClassAdmin, false, false},
		{"empty condition is no condition", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}`, ClassAdmin, true, false},
		{"near-admin", `{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}`, ClassNearAdmin, true, false},
		{"NotAction on narrow resource", `{"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:s3:::b"}`, "", false, false},
		{"escalation exact", `{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"*"}`, ClassEscalation, true, false},
		{"escalation iam star", `{"Effect":"Allow","Action":"iam:*","Resource":"*"}`, ClassEscalation, true, false},
		{"escalation wildcard", `{"Effect":"Allow","Action":["iam:Put*"],"Resource":"*"}`, ClassEscalation, true, false},
		{"escalation case-insensitive", `{"Effect":"Allow","Action":"IAM:attachrolepolicy","Resource":"*"}`, ClassEscalation, true, false},
		{"escalation question mark", `{"Effect":"Allow","Action":"iam:?reatePolicyVersion","Resource":"*"}`, ClassEscalation, true, false},
		{"each escalation action", `{"Effect":"Allow","Action":["iam:SetDefaultPolicyVersion","iam:UpdateAssumeRolePolicy","iam:DeleteRolePermissionsBoundary"],"Resource":"*"}`, ClassEscalation, true, false},
		{"escalation on narrow resource", `{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::1:role/x"}`, "", false, false},
		{"read-only iam", `{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}`, "", false, false},
		{"service star", `{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, "", false, false},
		{"deny star", `{"Effect":"Deny","Action":"*","Resource":"*"}`, "", false, true},
		{"deny star colon star", `{"Effect":"Deny","Action":"*:*","Resource":["*"]}`, "", false, true},
		{"deny with condition does not cancel", `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}`, "", false, false},
		{"deny narrow does not cancel", `{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::b"}`, "", false, false},
		{"deny NotAction does not cancel", `{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}`, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := ParseString(`{"Version":"2012-10-17","Statement":[` + tt.statement + `]}`)
			if err != nil {
				t.Fatal(err)
			}
			a := Analyze(doc)
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
			if g.Class != tt.want || g.Unrestricted != tt.unrestricted || g.Index != 0 || g.Reason == "" {
				t.Errorf("grant = %+v, want class %s unrestricted %v", g, tt.want, tt.unrestricted)
			}
		})
	}
}

func TestAnalyzeRecordsIndexAndSid(t *testing.T) {
	doc, err := ParseString(`{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"FullAccess","Effect":"Allow","Action":["*"],"Resource":["*"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	a := Analyze(doc)
	if len(a.Grants) != 1 || a.Grants[0].Index != 1 || a.Grants[0].Sid != "FullAccess" {
		t.Fatalf("grants = %+v, want statement 1 with Sid FullAccess", a.Grants)
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
	}
	for _, tt := range tests {
		wk, ok := LookupWellKnown(tt.arn)
		if ok != tt.known {
			t.Errorf("%s: known = %v, want %v", tt.arn, ok, tt.known)
			continue
		}
		var got Class
		if len(wk.Grants) > 0 {
			got = wk.Grants[0].Class
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
