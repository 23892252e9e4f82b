package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"lambda-role-audit/pkg/inventory"
)

const (
	acctID     = "123456789012"
	adminDoc   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	s3Doc      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	denyAllDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
)

func roleARN(name string) string { return "arn:aws:iam::" + acctID + ":role/" + name }
func policyARN(name string) string {
	return "arn:aws:iam::" + acctID + ":policy/" + name
}
func fn(region, name, role string) inventory.Function {
	return inventory.Function{ARN: "arn:aws:lambda:" + region + ":" + acctID + ":function:" + name, Name: name, Region: region, RoleARN: roleARN(role)}
}
func inline(name, doc string) inventory.InlinePolicy {
	return inventory.InlinePolicy{Name: name, Document: json.RawMessage(doc)}
}
func managed(name, doc string) *inventory.ManagedPolicy {
	return &inventory.ManagedPolicy{ARN: policyARN(name), Name: name, DefaultVersionID: "v2", Document: json.RawMessage(doc)}
}

// account builds an account whose functions use the given roles.
func account(roles []*inventory.Role, policies []*inventory.ManagedPolicy, fns ...inventory.Function) *inventory.Account {
	a := &inventory.Account{ID: acctID, Source: "test", Regions: []string{"eu-west-1", "us-east-1"}, Functions: fns,
		Roles: map[string]*inventory.Role{}, Policies: map[string]*inventory.ManagedPolicy{}}
	for _, r := range roles {
		if r.Name == "" {
			r.Name = inventory.RoleNameFromARN(r.ARN)
		}
		a.Roles[r.ARN] = r
	}
	for _, p := range policies {
		a.Policies[p.ARN] = p
	}
	return a
}

func TestRulesAndSeverities(t *testing.T) {
	two := []inventory.Function{fn("us-east-1", "a", "r"), fn("us-east-1", "b", "r")}
	one := []inventory.Function{fn("us-east-1", "a", "r")}
	tests := []struct {
		name     string
		role     *inventory.Role
		policies []*inventory.ManagedPolicy
		fns      []inventory.Function
		rule     string // "" for no finding
		severity Severity
	}{
		{"shared inline admin", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}}, nil, two, RuleSharedAdminRole, Critical},
		{"shared across regions", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}}, nil,
			[]inventory.Function{fn("us-east-1", "a", "r"), fn("eu-west-1", "a", "r")}, RuleSharedAdminRole, Critical},
		{"shared managed admin", &inventory.Role{ARN: roleARN("r"), AttachedPolicyARNs: []string{policyARN("m")}}, []*inventory.ManagedPolicy{managed("m", adminDoc)}, two, RuleSharedAdminRole, Critical},
		{"shared well-known AdministratorAccess without document", &inventory.Role{ARN: roleARN("r"), AttachedPolicyARNs: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}, nil, two, RuleSharedAdminRole, Critical},
		{"shared admin under condition", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}}`)}}, nil, two, RuleSharedAdminRole, High},
		{"shared admin on narrow resource", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/*"}}`)}}, nil, two, RuleSharedAdminRole, High},
		{"shared near-admin", &inventory.Role{ARN: roleARN("r"), AttachedPolicyARNs: []string{"arn:aws:iam::aws:policy/PowerUserAccess"}}, nil, two, RuleSharedAdminRole, High},
		{"shared escalation", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", `{"Statement":{"Effect":"Allow","Action":"iam:Put*","Resource":"*"}}`)}}, nil, two, RuleSharedAdminRole, High},
		{"shared admin capped by boundary", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, BoundaryARN: policyARN("b")}, []*inventory.ManagedPolicy{managed("b", s3Doc)}, two, RuleSharedAdminRole, Medium},
		{"shared admin, admin boundary", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, BoundaryARN: policyARN("b")}, []*inventory.ManagedPolicy{managed("b", adminDoc)}, two, RuleSharedAdminRole, Critical},
		{"single admin", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}}, nil, one, RuleAdminRole, High},
		{"single near-admin", &inventory.Role{ARN: roleARN("r"), AttachedPolicyARNs: []string{"arn:aws:iam::aws:policy/PowerUserAccess"}}, nil, one, RuleAdminRole, Medium},
		{"single admin capped by boundary", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, BoundaryARN: policyARN("b")}, []*inventory.ManagedPolicy{managed("b", s3Doc)}, one, RuleAdminRole, Low},
		{"shared but harmless", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", s3Doc)}}, nil, two, RuleSharedRole, Low},
		{"shared admin cancelled by deny", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc), inline("q", denyAllDoc)}}, nil, two, RuleSharedRole, Low},
		{"single admin cancelled by managed deny", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, AttachedPolicyARNs: []string{policyARN("d")}}, []*inventory.ManagedPolicy{managed("d", denyAllDoc)}, one, "", ""},
		{"single harmless", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", s3Doc)}}, nil, one, "", ""},
		// A boundary is judged with the same resource matching: one that
		// allows iam:PutRolePolicy on the account's roles does not cap.
		{"boundary with an escalation on a role pattern does not cap", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, BoundaryARN: policyARN("b")},
			[]*inventory.ManagedPolicy{managed("b", `{"Statement":[{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::`+acctID+`:role/*"}]}`)}, two, RuleSharedAdminRole, Critical},
		{"boundary with an escalation on other roles caps", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, BoundaryARN: policyARN("b")},
			[]*inventory.ManagedPolicy{managed("b", `{"Statement":[{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"arn:aws:iam::`+acctID+`:role/other-*"}]}`)}, two, RuleSharedAdminRole, Medium},
		{"escalation on an attached policy by pattern", &inventory.Role{ARN: roleARN("r"), AttachedPolicyARNs: []string{policyARN("app-x")}},
			[]*inventory.ManagedPolicy{managed("app-x", `{"Statement":[{"Effect":"Allow","Action":"iam:CreatePolicyVersion","Resource":"arn:aws:iam::*:policy/app-*"}]}`)}, two, RuleSharedAdminRole, High},
		{"iam allowed inline, denied by a managed policy", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", `{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}`)}, AttachedPolicyARNs: []string{policyARN("d")}},
			[]*inventory.ManagedPolicy{managed("d", `{"Statement":{"Effect":"Deny","Action":"iam:*","Resource":"*"}}`)}, two, RuleSharedRole, Low},
		{"admin less IAM is near-admin", &inventory.Role{ARN: roleARN("r"), AttachedPolicyARNs: []string{"arn:aws:iam::aws:policy/AdministratorAccess", policyARN("d")}},
			[]*inventory.ManagedPolicy{managed("d", `{"Statement":{"Effect":"Deny","Action":"iam:*","Resource":"*"}}`)}, two, RuleSharedAdminRole, High},
		{"spoofed AWS-managed path is not well known", &inventory.Role{ARN: roleARN("r"), AttachedPolicyARNs: []string{"arn:aws:iam::" + acctID + ":policy/x:iam::aws:policy/ReadOnlyAccess"}}, nil, two, "unevaluated", ""},
		{"url-encoded inline admin", &inventory.Role{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", `"%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D"`)}}, nil, two, RuleSharedAdminRole, Critical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Evaluate(account([]*inventory.Role{tt.role}, tt.policies, tt.fns...), Options{})
			if tt.rule == "unevaluated" {
				if rep.Complete || len(rep.Errors) != 1 || len(rep.Findings) != 0 {
					t.Fatalf("want the role unevaluated: complete %v errors %+v findings %+v", rep.Complete, rep.Errors, rep.Findings)
				}
				return
			}
			if !rep.Complete || len(rep.Errors) != 0 {
				t.Fatalf("report incomplete: %+v", rep.Errors)
			}
			if tt.rule == "" {
				if len(rep.Findings) != 0 {
					t.Fatalf("findings = %+v, want none", rep.Findings)
				}
				return
			}
			if len(rep.Findings) != 1 {
				t.Fatalf("findings = %+v, want one", rep.Findings)
			}
			f := rep.Findings[0]
			if f.Rule != tt.rule || f.Severity != tt.severity {
				t.Errorf("finding %s/%s, want %s/%s", f.Rule, f.Severity, tt.rule, tt.severity)
			}
			if len(f.Functions) != len(tt.fns) || f.RoleName != "r" || f.ID != FindingID(tt.rule, roleARN("r")) {
				t.Errorf("finding = %+v", f)
			}
			if tt.rule != RuleSharedRole && (len(f.Evidence) == 0 || f.Evidence[0].Reason == "") {
				t.Errorf("finding has no evidence: %+v", f)
			}
		})
	}
}

func TestUnevaluatedRolesAreNeverClean(t *testing.T) {
	two := []inventory.Function{fn("us-east-1", "a", "r"), fn("us-east-1", "b", "r")}
	tests := []struct {
		name string
		acct *inventory.Account
		want string
	}{
		{"unknown managed policy", account([]*inventory.Role{{ARN: roleARN("r"), AttachedPolicyARNs: []string{policyARN("gone")}}}, nil, two...), "document not available"},
		{"malformed inline policy", account([]*inventory.Role{{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("broken", `"{not json"`)}}}, nil, two...), `inline policy "broken"`},
		{"double-encoded managed policy", account([]*inventory.Role{{ARN: roleARN("r"), AttachedPolicyARNs: []string{policyARN("m")}}}, []*inventory.ManagedPolicy{managed("m", `"%257B%2522Statement%2522"`)}, two...), "double-encoded"},
		{"unknown boundary", account([]*inventory.Role{{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, BoundaryARN: policyARN("b")}}, nil, two...), "document not available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Evaluate(tt.acct, Options{})
			if rep.Complete {
				t.Fatal("report says complete")
			}
			if len(rep.Findings) != 0 {
				t.Fatalf("unevaluated role produced findings: %+v", rep.Findings)
			}
			if len(rep.Errors) != 1 || rep.Errors[0].RoleARN != roleARN("r") || !strings.Contains(rep.Errors[0].Message, tt.want) || len(rep.Errors[0].Functions) != 2 {
				t.Fatalf("errors = %+v, want one naming the role and %q", rep.Errors, tt.want)
			}
		})
	}
}

func TestProblemsMakeReportIncomplete(t *testing.T) {
	acct := account([]*inventory.Role{{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}}}, nil,
		fn("us-east-1", "a", "r"), fn("us-east-1", "b", "r"), fn("us-east-1", "c", "denied"))
	acct.Problems = []inventory.Problem{
		{Region: "ap-south-1", Operation: "lambda:ListFunctions", Message: "AccessDeniedException: nope"},
		{RoleARN: roleARN("denied"), Operation: "iam:GetRole", Message: "AccessDenied: not authorized to perform iam:GetRole"},
	}
	rep := Evaluate(acct, Options{})
	if rep.Complete || len(rep.Errors) != 2 {
		t.Fatalf("complete=%v errors=%+v", rep.Complete, rep.Errors)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Rule != RuleSharedAdminRole {
		t.Fatalf("the readable role must still be reported: %+v", rep.Findings)
	}
	if rep.Errors[1].Operation != "iam:GetRole" || !strings.Contains(rep.Errors[1].Message, "not evaluated") {
		t.Fatalf("denied role error = %+v", rep.Errors[1])
	}
}

func TestMissingRoleGrantsNothing(t *testing.T) {
	acct := account([]*inventory.Role{{ARN: roleARN("r"), Missing: true}}, nil, fn("us-east-1", "a", "r"), fn("us-east-1", "b", "r"))
	rep := Evaluate(acct, Options{})
	if !rep.Complete || len(rep.Findings) != 1 || rep.Findings[0].Rule != RuleSharedRole || len(rep.Warnings) != 1 {
		t.Fatalf("report = %+v", rep)
	}
}

func TestSortingSummaryAndSuppression(t *testing.T) {
	roles := []*inventory.Role{
		{ARN: roleARN("a-harmless"), Inline: []inventory.InlinePolicy{inline("p", s3Doc)}},
		{ARN: roleARN("b-admin"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}},
		{ARN: roleARN("c-admin"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, Tags: map[string]string{SuppressTag: "break-glass"}},
		{ARN: roleARN("d-single"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}},
	}
	acct := account(roles, nil,
		fn("us-east-1", "1", "a-harmless"), fn("us-east-1", "2", "a-harmless"),
		fn("us-east-1", "3", "b-admin"), fn("us-east-1", "4", "b-admin"),
		fn("us-east-1", "5", "c-admin"), fn("eu-west-1", "5", "c-admin"),
		fn("us-east-1", "6", "d-single"))
	rep := Evaluate(acct, Options{SuppressRoles: []string{"d-single"}})
	var order []string
	for _, f := range rep.Findings {
		order = append(order, f.RoleName+"/"+string(f.Severity))
	}
	want := "b-admin/critical c-admin/critical d-single/high a-harmless/low"
	if strings.Join(order, " ") != want {
		t.Fatalf("order = %v, want %s", order, want)
	}
	s := rep.Summary
	if s.Total != 4 || s.ByRule[RuleSharedAdminRole] != 2 || s.ByRule[RuleAdminRole] != 1 || s.ByRule[RuleSharedRole] != 1 ||
		s.BySeverity["critical"] != 2 || s.BySeverity["high"] != 1 || s.BySeverity["low"] != 1 || s.BySeverity["medium"] != 0 || s.Suppressed != 2 {
		t.Fatalf("summary = %+v", s)
	}
	if !rep.Findings[1].Suppressed || rep.Findings[1].SuppressReason != "break-glass" || !rep.Findings[2].Suppressed {
		t.Fatalf("suppression not applied: %+v", rep.Findings)
	}
	if rep.Highest() != Critical || len(rep.Alerting(Medium)) != 1 {
		t.Fatalf("highest=%s alerting=%d", rep.Highest(), len(rep.Alerting(Medium)))
	}
}

func TestParseSeverity(t *testing.T) {
	for _, s := range []string{"critical", "HIGH", " medium ", "Low"} {
		if _, err := ParseSeverity(s); err != nil {
			t.Errorf("ParseSeverity(%q): %v", s, err)
		}
	}
	if _, err := ParseSeverity("urgent"); err == nil || !strings.Contains(err.Error(), "urgent") {
		t.Errorf("ParseSeverity(urgent) = %v", err)
	}
}

// TestPreparedVerdictsChangeNothing: a report built with verdicts prepared
// during collection equals one built without, and a role that changed
// after preparation (another pointer) is judged again.
func TestPreparedVerdictsChangeNothing(t *testing.T) {
	roles := []*inventory.Role{
		{ARN: roleARN("admin"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}},
		{ARN: roleARN("managed"), AttachedPolicyARNs: []string{policyARN("m")}},
		{ARN: roleARN("unknown"), AttachedPolicyARNs: []string{policyARN("later")}},
		{ARN: roleARN("harmless"), Inline: []inventory.InlinePolicy{inline("p", s3Doc)}},
	}
	acct := account(roles, []*inventory.ManagedPolicy{managed("m", adminDoc)},
		fn("us-east-1", "a", "admin"), fn("us-east-1", "b", "admin"), fn("us-east-1", "c", "managed"),
		fn("us-east-1", "d", "unknown"), fn("us-east-1", "e", "harmless"), fn("us-east-1", "f", "harmless"))
	now := func() time.Time { return time.Time{} }

	prepared := Prepare(acct.Roles, map[string]*inventory.ManagedPolicy{policyARN("m"): acct.Policies[policyARN("m")]}, nil)
	if _, ok := prepared.verdicts[roleARN("unknown")]; ok {
		t.Fatal("a role whose policy was not yet read must not be prepared")
	}
	// The policy arrives after preparation, as a late fetch would bring it.
	acct.Policies[policyARN("later")] = managed("later", s3Doc)
	// And one role is replaced after preparation: it must be judged anew.
	acct.Roles[roleARN("harmless")] = &inventory.Role{ARN: roleARN("harmless"), Name: "harmless", Inline: []inventory.InlinePolicy{inline("p", adminDoc)}}
	got := Evaluate(acct, Options{Now: now, Prepared: prepared})
	want := Evaluate(acct, Options{Now: now})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("prepared report differs:\n got %+v\nwant %+v", got.Findings, want.Findings)
	}
	if len(got.Findings) != 3 || !got.Complete {
		t.Fatalf("findings = %+v", got.Findings)
	}
}

// TestEscalationPathsGrantAdmin: a role that holds no admin itself but has
// a path to a principal that does is reported as granting admin (class
// escalation, high when shared, medium alone), with the path as evidence.
func TestEscalationPathsGrantAdmin(t *testing.T) {
	path := &Escalation{Admin: "role admin holds admin", Steps: []PathStep{{From: roleARN("r"), To: roleARN("admin"), Actions: []string{"sts:AssumeRole"},
		AllowedBy: []StatementRef{{Policy: "p", PolicyType: "inline", StatementIndex: 0}}}}}
	for _, tt := range []struct {
		fns      []inventory.Function
		rule     string
		severity Severity
	}{
		{[]inventory.Function{fn("us-east-1", "a", "r"), fn("us-east-1", "b", "r")}, RuleSharedAdminRole, High},
		{[]inventory.Function{fn("us-east-1", "a", "r")}, RuleAdminRole, Medium},
	} {
		acct := account([]*inventory.Role{{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`)}}}, nil, tt.fns...)
		rep := Evaluate(acct, Options{Escalations: map[string]*Escalation{roleARN("r"): path}})
		if len(rep.Findings) != 1 {
			t.Fatalf("findings: %+v", rep.Findings)
		}
		f := rep.Findings[0]
		if f.Rule != tt.rule || f.Severity != tt.severity || f.Evidence[0].Class != "escalation" || len(f.Evidence[0].Path) != 1 ||
			!strings.Contains(f.Evidence[0].Reason, "become admin in 1 step") {
			t.Errorf("finding: %+v", f)
		}
		if plain := Evaluate(acct, Options{}); len(tt.fns) == 1 && len(plain.Findings) != 0 {
			t.Errorf("without the path the role is clean: %+v", plain.Findings)
		}
	}
}

// TestBoundaryDoesNotCapAnEscalationPath: a role whose own admin a boundary
// caps, but which can still reach an uncapped admin principal, is reported
// by its path, without the cap.
func TestBoundaryDoesNotCapAnEscalationPath(t *testing.T) {
	path := &Escalation{Admin: "role admin holds admin", Steps: []PathStep{{From: roleARN("r"), To: roleARN("admin"), Actions: []string{"sts:AssumeRole"},
		AllowedBy: []StatementRef{{Policy: "p", PolicyType: "inline", StatementIndex: 0}}}}}
	two := []inventory.Function{fn("us-east-1", "a", "r"), fn("us-east-1", "b", "r")}
	acct := account([]*inventory.Role{{ARN: roleARN("r"), Inline: []inventory.InlinePolicy{inline("p", adminDoc)}, BoundaryARN: policyARN("b")}},
		[]*inventory.ManagedPolicy{managed("b", `{"Statement":{"Effect":"Allow","Action":["sts:AssumeRole","s3:*"],"Resource":"*"}}`)}, two...)
	capped := Evaluate(acct, Options{})
	if capped.Findings[0].Severity != Medium {
		t.Fatalf("without a path the boundary caps: %+v", capped.Findings[0])
	}
	rep := Evaluate(acct, Options{Escalations: map[string]*Escalation{roleARN("r"): path}})
	f := rep.Findings[0]
	if f.Severity != High || f.Evidence[0].Class != "escalation" || !strings.Contains(f.Evidence[len(f.Evidence)-1].Reason, "lets the escalation path through") {
		t.Errorf("finding: %+v", f)
	}
}

// TestSetDefaultPolicyVersionNeedsAStrongerVersion: making another version
// the default raises a role only when an attached policy has a non-default
// version that grants more; unknown versions count (conservative).
func TestSetDefaultPolicyVersionNeedsAStrongerVersion(t *testing.T) {
	swap := `{"Statement":{"Effect":"Allow","Action":"iam:SetDefaultPolicyVersion","Resource":"*"}}`
	for _, tt := range []struct {
		name   string
		others []inventory.PolicyVersion
		want   string
	}{
		{"only weaker versions", []inventory.PolicyVersion{{ID: "v1", Document: json.RawMessage(s3Doc)}}, RuleSharedRole},
		{"an admin version", []inventory.PolicyVersion{{ID: "v1", Document: json.RawMessage(adminDoc)}}, RuleSharedAdminRole},
		{"versions unknown", nil, RuleSharedAdminRole},
	} {
		m := managed("m", swap)
		m.OtherVersions = tt.others
		acct := account([]*inventory.Role{{ARN: roleARN("r"), AttachedPolicyARNs: []string{policyARN("m")}}}, []*inventory.ManagedPolicy{m},
			fn("us-east-1", "a", "r"), fn("us-east-1", "b", "r"))
		rep := Evaluate(acct, Options{})
		if len(rep.Findings) != 1 || rep.Findings[0].Rule != tt.want {
			t.Errorf("%s: %+v", tt.name, rep.Findings)
		}
	}
}
