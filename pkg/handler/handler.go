package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"lambda-role-audit/pkg/asff"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/notify"
	"lambda-role-audit/pkg/render"
	"lambda-role-audit/pkg/run"
	"lambda-role-audit/pkg/usage"
)

// Handler runs one audit per invocation.
type Handler struct {
	Config Config
	Source run.Source
	SNS    notify.SNSAPI
	// S3 holds the state (the last complete report) when Config.StateBucket
	// is set.
	S3 notify.S3API
	// SecurityHub receives findings when Config.SecurityHub is on.
	SecurityHub asff.API
	// CloudTrail gives each region's client when Config.UsageEvidence is on.
	CloudTrail func(region string) usage.CloudTrailAPI
	Logger     *slog.Logger
	Now        func() time.Time
}

// Summary is the invocation's compact result, readable in the console's
// Test output.
type Summary struct {
	Complete  bool          `json:"complete"`
	AccountID string        `json:"accountId,omitempty"`
	Regions   int           `json:"regions"`
	Functions int           `json:"functions"`
	Findings  audit.Summary `json:"findings"`
	Alerting  int           `json:"alerting"`
	Highest   string        `json:"highestSeverity,omitempty"`
	Errors    []string      `json:"errors,omitempty"`
	Mode      string        `json:"notify"`
	// Changes says what changed since the last complete run, when the
	// function keeps state.
	Changes   string `json:"changes,omitempty"`
	Published bool   `json:"published"`
	MessageID string `json:"messageId,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Shortened int    `json:"omittedFromAlert,omitempty"`
	// SecurityHub is what the Security Hub export did, when it is on and
	// worked (a failure is in Errors, and in the alert).
	SecurityHub *asff.Result  `json:"securityHub,omitempty"`
	Report      *audit.Report `json:"report,omitempty"`
	// OmittedFromResponse counts findings a dry run's report leaves out to
	// fit Lambda's response limit; ReportNote says where they are.
	OmittedFromResponse int            `json:"omittedFromResponse,omitempty"`
	ReportNote          string         `json:"reportNote,omitempty"`
	Timing              map[string]int `json:"timingMs,omitempty"`
}

// Invoke is the Lambda entry point: an SQS batch of change events gets one
// audit and a partial-batch answer; every other event goes to Handle.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	if isBatch(raw) {
		return h.HandleBatch(ctx, raw)
	}
	return h.Handle(ctx, raw)
}

// Handle answers the schedule's events and manual (console) events.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	log := h.logger()
	req, err := decodeEvent(raw)
	if err != nil {
		log.Error("rejected event", "error", err.Error())
		return Summary{}, err
	}
	mode := h.Config.NotifyOn
	if req.Notify != "" {
		mode = req.Notify
	}
	if mode == notify.ModeChange && h.Config.StateBucket == "" && !req.DryRun {
		return Summary{}, errors.New("notify mode change needs STATE_BUCKET, which is not configured")
	}
	regions := h.Config.Regions
	if len(req.Regions) > 0 {
		regions = req.Regions
	}
	log.Info("audit started", "scheduled", req.Scheduled, "dryRun", req.DryRun, "notify", mode, "regions", regions)
	return h.run(ctx, regions, mode, req.DryRun)
}

// HandleBatch answers a batch of change events (CloudTrail through
// EventBridge and SQS) with one audit in change mode, whatever NOTIFY_ON
// says: a change alert goes out only when something is new, worse or
// resolved. Malformed messages are returned for retry (and so reach the
// dead-letter queue); when the audit fails, every message is.
func (h *Handler) HandleBatch(ctx context.Context, raw json.RawMessage) (BatchResponse, error) {
	log := h.logger()
	triggers, malformed, ignored, err := readBatch(raw, h.Config.AuditRoleARN)
	if err != nil {
		log.Error("rejected event", "error", err.Error())
		return BatchResponse{}, err
	}
	resp := BatchResponse{BatchItemFailures: []BatchItemFailure{}}
	for _, id := range malformed {
		log.Error("malformed change message: left for retry and the dead-letter queue", "messageId", id)
		resp.BatchItemFailures = append(resp.BatchItemFailures, BatchItemFailure{ItemIdentifier: id})
	}
	if len(triggers) == 0 {
		log.Info("no change that can affect a finding: no audit", "ignored", ignored, "malformed", len(malformed))
		return resp, nil
	}
	log.Info("change-triggered audit started", "triggers", triggers, "ignored", ignored)
	if h.Config.StateBucket == "" {
		err = errors.New("a change-triggered audit needs STATE_BUCKET, which is not configured")
	} else {
		var sum Summary
		if sum, err = h.run(ctx, h.Config.Regions, notify.ModeChange, false); err == nil {
			log.Info("change-triggered audit done", "changes", sum.Changes, "published", sum.Published, "reason", sum.Reason, "complete", sum.Complete)
		}
	}
	if err != nil {
		log.Error("change-triggered audit failed: the whole batch is left for retry", "error", err.Error())
		return BatchResponse{BatchItemFailures: allMessages(raw)}, nil
	}
	return resp, nil
}

// allMessages names every message of a batch.
func allMessages(raw json.RawMessage) []BatchItemFailure {
	var batch sqsBatch
	_ = json.Unmarshal(raw, &batch) // already read once by readBatch
	out := make([]BatchItemFailure, len(batch.Records))
	for i, r := range batch.Records {
		out[i] = BatchItemFailure{ItemIdentifier: r.MessageID}
	}
	return out
}

// run audits, compares with the state, exports and alerts.
func (h *Handler) run(ctx context.Context, regions []string, mode string, dryRun bool) (Summary, error) {
	log := h.logger()
	rep, collectTime := h.audit(ctx, regions)
	var prev notify.Stored
	if h.Config.StateBucket != "" && !dryRun {
		var err error
		if prev, err = h.store().Load(ctx); err != nil {
			logReport(log, rep)
			log.Error("state unreadable", "error", err.Error())
			return Summary{}, err
		}
		h.compare(rep, prev)
	}
	logReport(log, rep)
	sum := summarize(rep, h.Config.MinSeverity)
	sum.Mode = mode
	sum.Timing = map[string]int{"collect": int(collectTime.Milliseconds())}
	if dryRun {
		sum.Reason = "dry run: nothing published"
		sum.Report, sum.OmittedFromResponse = responseReport(rep, maxResponseReportBytes)
		if sum.OmittedFromResponse > 0 {
			sum.ReportNote = omittedNote(sum.OmittedFromResponse, h.Config)
		}
		return sum, nil
	}
	if h.Config.UsageEvidence {
		h.addUsageEvidence(ctx, rep)
	}
	if h.Config.SecurityHub {
		sum = h.deliverToSecurityHub(ctx, rep, sum)
	}
	return h.notify(ctx, rep, mode, prev, sum)
}

// compare stamps the report with each finding's first sighting and what
// changed since the stored report.
func (h *Handler) compare(rep *audit.Report, prev notify.Stored) {
	if prev.Unreadable != "" {
		h.logger().Warn("state unusable", "reason", prev.Unreadable)
		if !slices.Contains(rep.Warnings, prev.Unreadable) {
			rep.Warnings = append(rep.Warnings, prev.Unreadable)
		}
	}
	audit.CarryFirstSeen(prev.Report, rep)
	change := audit.Compare(prev.Report, rep, h.Config.MinSeverity)
	rep.Change = &change
}

// deliverToSecurityHub imports the findings before the alert is built,
// so that a failure is said in the alert (which then goes out) rather
// than failing the invocation.
func (h *Handler) deliverToSecurityHub(ctx context.Context, rep *audit.Report, sum Summary) Summary {
	log := h.logger()
	res, ok := asff.Deliver(ctx, h.SecurityHub, rep, h.Config.SecurityHubRegion, h.Config.MinSeverity, h.now())
	if !ok {
		e := rep.DeliveryErrors[len(rep.DeliveryErrors)-1]
		log.Error("Security Hub not updated", "operation", e.Operation, "error", e.Message)
		sum.Errors = append(sum.Errors, render.ErrorLine(e))
		return sum
	}
	log.Info("Security Hub updated", "imported", res.Imported, "archived", res.Archived, "region", h.Config.SecurityHubRegion)
	sum.SecurityHub = &res
	return sum
}

// audit runs the audit, keeping back part of the invocation's time for
// what follows it. A failure to audit anything at all (the region list
// unreadable) becomes an incomplete report, so that it is alerted on
// rather than lost in the log.
func (h *Handler) audit(ctx context.Context, regions []string) (*audit.Report, time.Duration) {
	start := h.now()
	res, err := run.Audit(ctx, h.Source, run.Options{
		Regions: regions, SuppressRoles: h.Config.SuppressRoles,
		CollectDeadline: collectionDeadline(ctx, start), Now: h.now,
	})
	if err == nil {
		return res.Report, res.Collect
	}
	collected := h.now().Sub(start)
	acct := &inventory.Account{Source: "live", Problems: []inventory.Problem{{Operation: "ec2:DescribeRegions", Message: err.Error()}}}
	return audit.Evaluate(acct, audit.Options{SuppressRoles: h.Config.SuppressRoles, Now: h.now}), collected
}

// stateAttempts bounds the read-compare-write rounds when other runs keep
// writing the state in between.
const stateAttempts = 5

// notify publishes the alert when the mode says so and records a complete
// report as the state, written only over the version it was compared with.
// When another run wrote in between, it reads that run's state, compares
// again and, in change mode, alerts on what that run did not see.
func (h *Handler) notify(ctx context.Context, rep *audit.Report, mode string, prev notify.Stored, sum Summary) (Summary, error) {
	log := h.logger()
	for attempt := 1; ; attempt++ {
		if rep.Change != nil {
			sum.Changes = rep.Change.Line(rep)
		}
		publish, reason := notify.Decide(mode, rep, h.Config.MinSeverity)
		switch {
		// After a conflict, change mode alerts again only on what the other
		// run did not see.
		case publish && (!sum.Published || (mode == notify.ModeChange && rep.Change != nil && rep.Change.Alerts())):
			msg, id, err := h.publish(ctx, rep, mode)
			if err != nil {
				return sum, err
			}
			sum.Published, sum.MessageID, sum.Shortened, sum.Reason = true, id, msg.Omitted, ""
		case !sum.Published:
			sum.Reason = reason
		}
		// A partial view must never become the baseline that the next
		// full run is compared with.
		if h.Config.StateBucket == "" || !rep.Complete {
			return sum, nil
		}
		err := h.store().Save(ctx, rep, prev)
		if err == nil || !errors.Is(err, notify.ErrStateConflict) || attempt == stateAttempts {
			if err != nil {
				log.Error("state not saved", "error", err.Error())
			}
			return sum, err
		}
		log.Warn("state written by another run since it was read: comparing again", "attempt", attempt)
		if prev, err = h.store().Load(ctx); err != nil {
			return sum, err
		}
		if prev.Report != nil && prev.Report.GeneratedAt.After(rep.GeneratedAt) {
			log.Info("a later run recorded its report: keeping it")
			return sum, nil
		}
		h.compare(rep, prev)
	}
}

func (h *Handler) store() notify.StateStore {
	return notify.StateStore{Client: h.S3, Bucket: h.Config.StateBucket, Key: h.Config.StateKey}
}

func (h *Handler) publish(ctx context.Context, rep *audit.Report, mode string) (notify.Message, string, error) {
	log := h.logger()
	msg, err := notify.Build(rep, notify.Context{
		AccountID: rep.AccountID, LogGroup: h.Config.LogGroup, LogStream: h.Config.LogStream,
		MinSeverity: h.Config.MinSeverity, Now: h.now(), ChangeMode: mode == notify.ModeChange,
	})
	if err != nil {
		log.Error("alert not built", "error", err.Error())
		return msg, "", fmt.Errorf("build alert: %w", err)
	}
	id, err := notify.Publish(ctx, h.SNS, h.Config.TopicARN, msg)
	if err != nil {
		// The report is already in the log; failing the invocation fires
		// the failure destination and the error alarm.
		log.Error("alert not published", "error", err.Error(), "topic", h.Config.TopicARN)
		return msg, "", err
	}
	log.Info("alert published", "messageId", id, "subject", msg.Subject, "bytes", msg.Size(), "omittedFindings", msg.Omitted)
	return msg, id, nil
}

// collectionDeadline keeps back part of the invocation for evaluation,
// logging and publishing: a fifth of the time left, between 3 and 30
// seconds. Past it, collection stops and what was read is reported as an
// incomplete audit.
func collectionDeadline(ctx context.Context, now time.Time) time.Time {
	deadline, ok := ctx.Deadline()
	if !ok {
		return now.Add(15 * time.Minute)
	}
	reserve := deadline.Sub(now) / 5
	reserve = max(3*time.Second, min(reserve, 30*time.Second))
	return deadline.Add(-reserve)
}

func summarize(rep *audit.Report, min audit.Severity) Summary {
	s := Summary{
		Complete: rep.Complete, AccountID: rep.AccountID, Regions: len(rep.Regions), Functions: rep.Functions,
		Findings: rep.Summary, Alerting: len(rep.Alerting(min)), Highest: string(rep.Highest()),
	}
	for i, e := range rep.Errors {
		if i == 5 {
			s.Errors = append(s.Errors, fmt.Sprintf("... and %d more (see the log)", len(rep.Errors)-5))
			break
		}
		s.Errors = append(s.Errors, render.ErrorLine(e))
	}
	return s
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
