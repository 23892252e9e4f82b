package notify

import (
	"fmt"
	"strings"

	"lambda-role-audit/pkg/audit"
)

// Modes say when a report is published.
const (
	ModeFindings = "findings" // when there are alerting findings, or the audit is incomplete
	ModeChange   = "change"   // when the alerting set changed since the last complete run
	ModeAlways   = "always"   // every run, all-clear included
)

// CheckMode rejects an unknown mode, naming the accepted ones.
func CheckMode(mode string) error {
	switch mode {
	case ModeFindings, ModeChange, ModeAlways:
		return nil
	}
	return fmt.Errorf("%q is not a notify mode (expected findings, change or always)", mode)
}

// Decide is the one place that says whether a report is published: by the
// scheduled function and by the command line's --publish alike. last is the
// previous complete run's state (change mode only; the zero State when
// there was none). An incomplete audit is always published: silence must
// never hide that part of the account went unchecked.
func Decide(mode string, r *audit.Report, min audit.Severity, last State) (publish bool, reason string) {
	// An export that failed is said in the alert, which must then go out.
	if !r.Complete || len(r.DeliveryErrors) > 0 {
		return true, ""
	}
	switch mode {
	case ModeAlways:
		return true, ""
	case ModeChange:
		now := StateFor(r, min)
		if last.Digest != now.Digest && !(last.Digest == "" && now.Count == 0) {
			return true, ""
		}
		return false, "findings unchanged since the last run"
	default:
		if len(r.Alerting(min)) > 0 {
			return true, ""
		}
		return false, fmt.Sprintf("no unsuppressed findings at %s or above", min)
	}
}

// StateFor is what change mode remembers of a report: each alerting
// finding's id with its severity and functions. The id names the problem
// and stays the same when it grows: a finding whose severity rises or that
// gains a function is a change, and alerts.
func StateFor(r *audit.Report, min audit.Severity) State {
	alerting := r.Alerting(min)
	keys := make([]string, len(alerting))
	for i, f := range alerting {
		keys[i] = f.ID + "|" + string(f.Severity) + "|" + strings.Join(f.Functions, ",")
	}
	return StateOf(keys)
}
