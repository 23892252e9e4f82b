package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/run"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedNow = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test ./pkg/notify -update and review the diff.\n--- got ---\n%s", name, got)
	}
}

func sampleReport(t *testing.T) *audit.Report {
	t.Helper()
	res, err := run.Audit(context.Background(), inventory.Snapshot{Dir: "../../testdata/sample-account"},
		run.Options{Now: func() time.Time { return fixedNow }, SuppressRoles: []string{"cc-sandbox-role"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Report
}

func bodiesOf(t *testing.T, m Message) map[string]string {
	t.Helper()
	var b map[string]string
	if err := json.Unmarshal([]byte(m.Body), &b); err != nil {
		t.Fatalf("body is not a MessageStructure=json document: %v", err)
	}
	for _, proto := range []string{"default", "email", "https", "sqs", "lambda"} {
		if b[proto] == "" {
			t.Errorf("no %s body", proto)
		}
	}
	return b
}

func TestSampleAccountAlert(t *testing.T) {
	rep := sampleReport(t)
	c := Context{AccountID: rep.AccountID, LogGroup: "/aws/lambda/lambda-role-audit-audit", LogStream: "2026/11/28/[$LATEST]abc", MinSeverity: audit.Medium, Now: fixedNow}
	m, err := Build(rep, c)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "lambda-role-audit 123456789012: 1 critical, 3 high, 1 medium" {
		t.Errorf("subject = %q", m.Subject)
	}
	if m.Omitted != 0 || m.Attributes["severity"].Value != "critical" || m.Attributes["findingCount"].Value != "5" {
		t.Errorf("message = %+v", m)
	}
	b := bodiesOf(t, m)
	golden(t, "sample-email.txt", []byte(b["email"]))
	golden(t, "sample-default.txt", []byte(b["default"]))
	var chat bytes.Buffer
	json.Indent(&chat, []byte(b["https"]), "", "  ")
	golden(t, "sample-https.json", chat.Bytes())

	var n ChatNotification
	if err := json.Unmarshal([]byte(b["https"]), &n); err != nil || n.Version != "1.0" || n.Source != "custom" || n.Content.TextType != "client-markdown" || n.Metadata.ThreadID == "" {
		t.Errorf("chat notification = %+v (%v)", n, err)
	}
	var r audit.Report
	if err := json.Unmarshal([]byte(b["sqs"]), &r); err != nil || len(r.Findings) != len(rep.Findings) || b["sqs"] != b["lambda"] {
		t.Errorf("sqs body is not the full report: %v", err)
	}
}

func TestIncompleteAndAllClearSubjects(t *testing.T) {
	rep := &audit.Report{AccountID: "123456789012", Complete: false, Errors: []audit.Error{{Region: "ap-south-1", Operation: "lambda:ListFunctions", Message: "AccessDeniedException: not authorized"}}}
	c := Context{AccountID: "123456789012", MinSeverity: audit.Medium}
	if s := subject(rep, c); s != "lambda-role-audit 123456789012: INCOMPLETE (ap-south-1: AccessDenied); no findings" {
		t.Errorf("incomplete subject = %q", s)
	}
	if lines := strings.SplitN(email(rep, c, 10), "\n", 4); lines[0] != "Lambda execution role audit of account 123456789012" ||
		lines[2] != "INCOMPLETE AUDIT: region ap-south-1, lambda:ListFunctions: AccessDeniedException: not authorized" {
		t.Errorf("incomplete email starts %q", lines)
	}
	rep = &audit.Report{AccountID: "123456789012", Complete: true}
	if s := subject(rep, c); s != "lambda-role-audit 123456789012: all clear" {
		t.Errorf("all-clear subject = %q", s)
	}
}

// TestAccountAliasAndDeliveryErrors: with many accounts in one channel,
// the alias follows the id in the subject and each body's first line; an
// export that failed is in the subject and said near the top, and makes
// the alert go out even when there is nothing else to say.
func TestAccountAliasAndDeliveryErrors(t *testing.T) {
	rep := &audit.Report{AccountID: "123456789012", AccountAlias: "payments-prod", Complete: true,
		DeliveryErrors: []audit.Error{{Operation: "securityhub:GetFindings", Message: "Security Hub is not enabled in this account and region"}}}
	c := Context{MinSeverity: audit.Medium}
	if s := subject(rep, Context{AccountID: "123456789012", AccountAlias: "payments-prod", MinSeverity: audit.Medium}); s != "lambda-role-audit 123456789012 (payments-prod): all clear; export failed" {
		t.Errorf("subject = %q", s)
	}
	m, err := Build(rep, c)
	if err != nil {
		t.Fatal(err)
	}
	b := bodiesOf(t, m)
	if !strings.HasPrefix(b["email"], "Lambda execution role audit of account 123456789012 (payments-prod)\n\nNOT DELIVERED: securityhub:GetFindings: Security Hub is not enabled") {
		t.Errorf("email starts:\n%s", b["email"])
	}
	if !strings.HasPrefix(b["default"], "Account 123456789012 (payments-prod)\nNOT DELIVERED") {
		t.Errorf("default body starts:\n%s", b["default"])
	}
	if publish, _ := Decide(ModeFindings, rep, audit.Medium); !publish {
		t.Error("a failed export must be published")
	}
}

func TestSubjectIsShortASCII(t *testing.T) {
	rep := &audit.Report{Complete: false}
	for i := 0; i < 50; i++ {
		rep.Errors = append(rep.Errors, audit.Error{Message: "é"})
		rep.Findings = append(rep.Findings, audit.Finding{Severity: audit.Severities[i%4]})
	}
	s := subject(rep, Context{AccountID: "123456789012-ü-with-a-very-long-label-that-goes-on-and-on-and-on", MinSeverity: audit.Low})
	if len(s) >= 100 {
		t.Errorf("subject has %d bytes", len(s))
	}
	for _, r := range s {
		if r > 0x7e || r < 0x20 {
			t.Fatalf("subject has non-ASCII %q: %q", r, s)
		}
	}
}

// TestShortensHugeReport builds a 10,000-finding report: the message must
// fit under SNS's limit, keep the most severe findings, and say where the
// rest is.
func TestShortensHugeReport(t *testing.T) {
	rep := &audit.Report{Tool: "lambda-role-audit", AccountID: "123456789012", Source: "live", GeneratedAt: fixedNow, Complete: true, Errors: []audit.Error{}, Regions: []string{"us-east-1"}}
	for i := 0; i < 10000; i++ {
		role := fmt.Sprintf("arn:aws:iam::123456789012:role/shared-role-%05d", i)
		f := audit.Finding{ID: audit.FindingID(audit.RuleSharedAdminRole, role), Rule: audit.RuleSharedAdminRole, Severity: audit.Severities[i*4/10000], RoleARN: role, RoleName: fmt.Sprintf("shared-role-%05d", i),
			Functions: []string{fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:function:a-%05d", i), fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:function:b-%05d", i)},
			Evidence:  []audit.Evidence{{Policy: "inline", PolicyType: "inline", Class: "admin", Unrestricted: true, Reason: `Allow of Action "*" on Resource "*"`}}}
		rep.Findings = append(rep.Findings, f)
	}
	rep.Functions, rep.Roles = 20000, 10000
	m, err := Build(rep, Context{AccountID: "123456789012", LogGroup: "/aws/lambda/lra", LogStream: "2026/11/28/[$LATEST]abc", MinSeverity: audit.Medium, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if m.Size() > MaxMessageBytes {
		t.Fatalf("message is %d bytes, over %d", m.Size(), MaxMessageBytes)
	}
	if m.Omitted == 0 || m.Detailed+m.Omitted != 10000 || m.Detailed < 50 {
		t.Fatalf("detailed %d, omitted %d", m.Detailed, m.Omitted)
	}
	b := bodiesOf(t, m)
	var r struct {
		Findings  []audit.Finding `json:"findings"`
		Truncated *Truncation     `json:"truncated"`
		Summary   audit.Summary   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(b["sqs"]), &r); err != nil || r.Truncated == nil || r.Truncated.OmittedFindings != m.Omitted || r.Summary.Total != 0 && r.Summary.Total != 10000 {
		t.Fatalf("shortened report: %+v %v", r.Truncated, err)
	}
	if r.Findings[0].Severity != audit.Critical {
		t.Errorf("the most severe findings must come first")
	}
	email := b["email"]
	lines := strings.Split(strings.TrimRight(email, "\n"), "\n")
	more := ""
	for _, l := range lines {
		if strings.Contains(l, "more findings: see") {
			more = l
		}
	}
	if more == "" {
		t.Fatal("the email does not say where the omitted findings are")
	}
	summary := fmt.Sprintf("subject: %s\nsize: under %d bytes\ndetailed: %d\nomitted: %d\nmore: %s\nemail head:\n%s\n",
		m.Subject, MaxMessageBytes, m.Detailed, m.Omitted, more, strings.Join(lines[:12], "\n"))
	golden(t, "shortened-10000.txt", []byte(summary))
}

// TestChangeAlert: in change mode the subject and first lines lead with
// what changed; new and worse findings in full, better and resolved ones
// a line each, then how many are unchanged (golden email).
func TestChangeAlert(t *testing.T) {
	now := sampleReport(t)
	last := sampleReport(t)
	last.GeneratedAt = fixedNow.Add(-24 * time.Hour)
	alerting := now.Alerting(audit.Medium)
	if len(alerting) < 4 {
		t.Fatalf("the sample account has %d alerting findings", len(alerting))
	}
	var kept []audit.Finding
	for _, f := range last.Findings {
		switch f.ID {
		case alerting[0].ID: // new now
			continue
		case alerting[1].ID: // worse now: one function fewer before
			f.Functions = f.Functions[:len(f.Functions)-1]
		case alerting[2].ID: // better now: more severe before
			f.Severity = audit.Critical
		}
		kept = append(kept, f)
	}
	kept = append(kept, audit.Finding{ID: "lra-0000000000000000", Rule: audit.RuleAdminRole, Severity: audit.High,
		RoleARN: "arn:aws:iam::123456789012:role/retired-admin", RoleName: "retired-admin", Functions: []string{"arn:aws:lambda:us-east-1:123456789012:function:old"}})
	last.Findings = kept
	audit.CarryFirstSeen(last, now)
	change := audit.Compare(last, now, audit.Medium)
	now.Change = &change
	if len(change.New) != 1 || len(change.Worse) != 1 || len(change.Better) != 1 || len(change.Resolved) != 1 {
		t.Fatalf("change %+v", change)
	}
	m, err := Build(now, Context{AccountID: "123456789012", AccountAlias: "payments-prod", MinSeverity: audit.Medium, Now: fixedNow, ChangeMode: true})
	if err != nil {
		t.Fatal(err)
	}
	line := change.Line(now)
	if m.Subject != "lambda-role-audit 123456789012 (payments-prod): "+line {
		t.Errorf("subject %q", m.Subject)
	}
	b := bodiesOf(t, m)
	first := line + " in account 123456789012 (payments-prod) since 2026-11-27 06:00 UTC"
	if lines := strings.SplitN(b["email"], "\n", 3); lines[0] != first {
		t.Errorf("email's first line %q, want %q", lines[0], first)
	}
	golden(t, "change-email.txt", []byte(b["email"]))
	if !strings.HasPrefix(b["default"], first+"\n") {
		t.Errorf("default body:\n%s", b["default"])
	}
	var chat ChatNotification
	if err := json.Unmarshal([]byte(b["https"]), &chat); err != nil || !strings.HasPrefix(chat.Content.Description, "*"+first+"*") {
		t.Errorf("chat description (%v):\n%s", err, chat.Content.Description)
	}
	// Without change mode the same report alerts as before.
	plain, _ := Build(now, Context{AccountID: "123456789012", MinSeverity: audit.Medium, Now: fixedNow})
	if strings.Contains(plain.Subject, "new") {
		t.Errorf("findings-mode subject %q", plain.Subject)
	}
}
