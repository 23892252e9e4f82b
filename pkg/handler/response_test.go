package handler

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"lambda-role-audit/internal/awsfake"
	"lambda-role-audit/pkg/audit"
)

// TestDryRunResponseAtScale: the dry run of the benchmark's largest
// account (10,000 functions, 3,000 roles, 17 regions) answers within
// Lambda's 6 MB response limit.
func TestDryRunResponseAtScale(t *testing.T) {
	srv := awsfake.Start(awsfake.Generate(awsfake.Spec{Functions: 10000, Regions: 17, Roles: 3000, Policies: 1000, Seed: 1}), awsfake.Options{})
	defer srv.Close()
	h := &Handler{
		Config: Config{TopicARN: "arn:aws:sns:us-east-1:123456789012:alerts", NotifyOn: "findings", MinSeverity: audit.Medium, LogGroup: "/aws/lambda/lra", LogStream: "s"},
		Source: awsfake.Collector(srv.URL),
	}
	sum, err := h.Handle(context.Background(), json.RawMessage(`{"dryRun": true}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sum)
	if len(b) >= 6<<20 || sum.Functions != 10000 || sum.Report == nil || len(sum.Report.Findings) == 0 {
		t.Fatalf("response %d bytes, %d functions, report %v", len(b), sum.Functions, sum.Report != nil)
	}
	t.Logf("dry-run response at 10,000 functions: %d bytes, %d findings, %d omitted", len(b), len(sum.Report.Findings), sum.OmittedFromResponse)
}

// TestResponseReportKeepsTheMostSevere: a report over the limit keeps its
// header and the most severe findings that fit, and says how many it left.
func TestResponseReportKeepsTheMostSevere(t *testing.T) {
	rep := &audit.Report{Tool: "lambda-role-audit", Complete: true, Errors: []audit.Error{}}
	for i, sev := range []audit.Severity{audit.Critical, audit.High, audit.Medium, audit.Low} {
		rep.Findings = append(rep.Findings, audit.Finding{ID: strings.Repeat("x", 10) + string(rune('a'+i)), Severity: sev, Functions: []string{strings.Repeat("f", 1000)}})
	}
	whole, omitted := responseReport(rep, 1<<20)
	if whole != rep || omitted != 0 {
		t.Fatalf("a report that fits must be returned whole")
	}
	cut, omitted := responseReport(rep, jsonSize(*rep)-500)
	if omitted != 1 || len(cut.Findings) != 3 || cut.Findings[2].Severity != audit.Medium || len(rep.Findings) != 4 {
		t.Fatalf("cut to %d findings, %d omitted", len(cut.Findings), omitted)
	}
	if b, _ := json.Marshal(cut); len(b) > jsonSize(*rep)-500 {
		t.Errorf("the cut report is %d bytes, over its limit", len(b))
	}
	if note := omittedNote(omitted, Config{LogGroup: "/aws/lambda/lra", LogStream: "2026/11/28/x"}); !strings.Contains(note, "log group /aws/lambda/lra, stream 2026/11/28/x") {
		t.Errorf("note: %s", note)
	}
}
