// Package run is one audit, the same for every face of the tool: the
// command line and the scheduled function both call Audit. It collects
// (judging roles as soon as the IAM data is in, while functions are still
// being listed), searches the account for escalation paths, evaluates the
// rules with suppressions, and adds the remediation plans:
// collect → evaluate → plan. Reporting and notifying
// stay with the caller.
package run

import (
	"context"
	"sync"
	"time"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/escalation"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/policy"
	"lambda-role-audit/pkg/remediation"
)

// Source is where an account is read from: inventory.Live or
// inventory.Snapshot.
type Source interface {
	Collect(ctx context.Context, req inventory.Request) (*inventory.Account, error)
}

// Options tune one audit.
type Options struct {
	// Regions to audit; empty means all (see inventory.Request).
	Regions []string
	// SuppressRoles are role names or ARNs whose findings are accepted risk.
	SuppressRoles []string
	// CollectDeadline, when set, stops collection: what was read by then is
	// reported, marked incomplete with what was skipped. The time left
	// after it is for evaluating, logging and publishing.
	CollectDeadline time.Time
	// Now stamps the report and times the steps; time.Now when nil.
	Now func() time.Time
}

// Result is an audit's report and how long its collection took.
type Result struct {
	Report  *audit.Report
	Collect time.Duration
}

// Audit runs one audit. It fails only when nothing could be audited at all
// (an unreadable snapshot, an unknown region list); everything else that
// could not be read is in the report, which is then incomplete.
func Audit(ctx context.Context, src Source, opts Options) (Result, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	collectCtx, cancel := ctx, context.CancelFunc(func() {})
	if !opts.CollectDeadline.IsZero() {
		collectCtx, cancel = context.WithDeadline(ctx, opts.CollectDeadline)
	}
	// The verdicts made early are this call's own: a collector shared by
	// concurrent audits never holds them.
	var prepared *audit.Prepared
	var graph *escalation.Graph
	parsed := &policy.Parsed{}
	var parsing sync.WaitGroup
	acct, err := src.Collect(collectCtx, inventory.Request{
		Regions: opts.Regions,
		// Parse each page's documents while the next pages, and the
		// functions, are on their way: judging then reads them parsed.
		OnIAMPage: func(page inventory.IAMPage) {
			parsing.Add(1)
			go func() {
				defer parsing.Done()
				parsePage(page, parsed)
			}()
		},
		OnIAMRead: func(read inventory.IAMRead) {
			parsing.Wait()
			// One after the other: the search reads the documents the
			// rules have just parsed (audit.Prepare uses every core).
			prepared = audit.Prepare(read.Roles, read.Policies, parsed)
			graph = escalation.Prepare("", read.Directory, read.Policies, parsed)
		},
	})
	cancel()
	if err != nil {
		return Result{}, err
	}
	collected := now().Sub(start)
	// Roles that hold no admin themselves may still reach a principal
	// that does: the whole account is searched for such paths.
	paths := escalation.Find(acct, graph, parsed)
	rep := audit.Evaluate(acct, audit.Options{SuppressRoles: opts.SuppressRoles, Now: now, Prepared: prepared, Escalations: paths.Escalations, Parsed: parsed})
	rep.Warnings = append(rep.Warnings, paths.Warnings...)
	remediation.AttachPlans(rep, acct)
	return Result{Report: rep, Collect: collected}, nil
}

// parsePage parses a page's documents into the audit's shared cache; what
// does not parse is reported later, by whoever reads it.
func parsePage(page inventory.IAMPage, parsed *policy.Parsed) {
	for _, r := range page.Roles {
		for _, in := range r.Inline {
			_, _ = parsed.JSON(in.Document)
		}
		if len(r.TrustPolicy) > 0 {
			_, _ = parsed.JSON(r.TrustPolicy)
		}
	}
	for _, u := range page.Users {
		for _, in := range u.Inline {
			_, _ = parsed.JSON(in.Document)
		}
	}
	for _, g := range page.Groups {
		for _, in := range g.Inline {
			_, _ = parsed.JSON(in.Document)
		}
	}
	for _, p := range page.Policies {
		_, _ = parsed.JSON(p.Document)
	}
}
