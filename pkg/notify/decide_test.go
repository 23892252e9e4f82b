package notify

import (
	"testing"

	"lambda-role-audit/pkg/audit"
)

func TestDecide(t *testing.T) {
	high := audit.Finding{ID: "lra-1", Severity: audit.High, Functions: []string{"f1", "f2"}}
	critical := high
	critical.Severity = audit.Critical
	grown := high
	grown.Functions = []string{"f1", "f2", "f3"}
	shrunk := high
	shrunk.Functions = []string{"f1"}
	low := audit.Finding{ID: "lra-2", Severity: audit.Low}
	quiet := &audit.Report{Complete: true, Findings: []audit.Finding{low}}
	loud := &audit.Report{Complete: true, Findings: []audit.Finding{high, low}}
	partial := &audit.Report{Complete: false}
	suppressed := &audit.Report{Complete: true, Findings: []audit.Finding{{ID: "lra-3", Severity: audit.Critical, Suppressed: true}}}
	// against compares a report with the last one, as the function does.
	against := func(last, now *audit.Report) *audit.Report {
		c := audit.Compare(last, now, audit.Medium)
		out := *now
		out.Change = &c
		return &out
	}
	tests := []struct {
		name    string
		mode    string
		report  *audit.Report
		publish bool
		reason  string
	}{
		{"findings: alerting finding", ModeFindings, loud, true, ""},
		{"findings: below the threshold", ModeFindings, quiet, false, "no unsuppressed findings at medium or above"},
		{"findings: suppressed only", ModeFindings, suppressed, false, "no unsuppressed findings at medium or above"},
		{"findings: incomplete", ModeFindings, partial, true, ""},
		{"always: all clear", ModeAlways, quiet, true, ""},
		{"change: first run with findings", ModeChange, against(nil, loud), true, ""},
		{"change: no state compared yet", ModeChange, loud, true, ""},
		{"change: first run, nothing", ModeChange, against(nil, quiet), false, "nothing new, worse or resolved since the last complete run (no change)"},
		{"change: same set", ModeChange, against(loud, loud), false, "nothing new, worse or resolved since the last complete run (no change)"},
		{"change: severity rose", ModeChange, against(loud, &audit.Report{Complete: true, Findings: []audit.Finding{critical}}), true, ""},
		{"change: a function more", ModeChange, against(loud, &audit.Report{Complete: true, Findings: []audit.Finding{grown}}), true, ""},
		{"change: only better", ModeChange, against(loud, &audit.Report{Complete: true, Findings: []audit.Finding{shrunk}}), false, "nothing new, worse or resolved since the last complete run (1 better)"},
		{"change: all resolved", ModeChange, against(loud, quiet), true, ""},
		{"change: incomplete", ModeChange, against(loud, partial), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			publish, reason := Decide(tt.mode, tt.report, audit.Medium)
			if publish != tt.publish || reason != tt.reason {
				t.Errorf("Decide = %v %q, want %v %q", publish, reason, tt.publish, tt.reason)
			}
		})
	}
	if err := CheckMode("sometimes"); err == nil {
		t.Error("CheckMode accepted an unknown mode")
	}
}
