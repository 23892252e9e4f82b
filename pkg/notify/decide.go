package notify

import (
	"fmt"

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
// scheduled function and by the command line's --publish alike. In change
// mode it reads the report's Change (made against the last complete
// report); without one, every alerting finding counts as new. An
// incomplete audit is always published: silence must never hide that part
// of the account went unchecked.
func Decide(mode string, r *audit.Report, min audit.Severity) (publish bool, reason string) {
	// An export that failed is said in the alert, which must then go out.
	if !r.Complete || len(r.DeliveryErrors) > 0 {
		return true, ""
	}
	switch mode {
	case ModeAlways:
		return true, ""
	case ModeChange:
		change := r.Change
		if change == nil {
			c := audit.Compare(nil, r, min)
			change = &c
		}
		if change.Alerts() {
			return true, ""
		}
		return false, "nothing new, worse or resolved since the last complete run (" + change.Line(r) + ")"
	default:
		if len(r.Alerting(min)) > 0 {
			return true, ""
		}
		return false, fmt.Sprintf("no unsuppressed findings at %s or above", min)
	}
}
