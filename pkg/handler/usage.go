package handler

import (
	"context"
	"time"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/remediation"
	"lambda-role-audit/pkg/usage"
)

// defaultUsageBudget is the LookupEvents calls one invocation may make in
// all (CloudTrail allows 2 a second per region: some 50 s at most per
// region).
const defaultUsageBudget = 200

// perFunctionCalls bounds one function's share of the budget.
const perFunctionCalls = 20

// addUsageEvidence reads, for each function of an alerting finding, its
// own calls from CloudTrail into its plan: within the call budget, and
// stopping early enough to leave time for what follows. Functions left
// without evidence keep the plain data-access note.
func (h *Handler) addUsageEvidence(ctx context.Context, rep *audit.Report) {
	log := h.logger()
	budget, read, skipped := h.Config.UsageMaxCalls, 0, 0
	limiter := usage.NewLimiter(usage.DefaultInterval)
	stopAt := usageDeadline(ctx, h.now())
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Suppressed || !f.Severity.AtLeast(h.Config.MinSeverity) {
			continue
		}
		for j := range f.Remediation {
			p := &f.Remediation[j]
			if budget <= 0 || h.now().After(stopAt) {
				skipped++
				continue
			}
			// Every function of a finding runs as the finding's role.
			fn := inventory.Function{ARN: p.FunctionARN, Name: p.FunctionName, Region: p.Region, RoleARN: f.RoleARN}
			ev := usage.Observe(ctx, fn, usage.Options{MaxCalls: min(perFunctionCalls, budget), Now: h.now(), Client: h.CloudTrail, Limiter: limiter})
			budget -= ev.Window.CallsMade
			remediation.AddEvidence(p, ev.Observed, ev.Window)
			read++
		}
	}
	log.Info("usage evidence read", "functions", read, "skipped", skipped, "callsLeft", budget)
}

// usageDeadline keeps half of the invocation's remaining time for
// evaluating what was read, exporting and alerting.
func usageDeadline(ctx context.Context, now time.Time) time.Time {
	deadline, ok := ctx.Deadline()
	if !ok {
		return now.Add(5 * time.Minute)
	}
	return now.Add(deadline.Sub(now) / 2)
}
