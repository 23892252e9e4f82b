package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"lambda-role-audit/pkg/asff"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/notify"
	"lambda-role-audit/pkg/render"
	"lambda-role-audit/pkg/run"
)

// Handler runs one audit per invocation.
type Handler struct {
	Config Config
	Source run.Source
	SNS    notify.SNSAPI
	SSM    notify.SSMAPI
	// SecurityHub receives findings when Config.SecurityHub is on.
	SecurityHub asff.API
	Logger      *slog.Logger
	Now         func() time.Time
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
	Published bool          `json:"published"`
	MessageID string        `json:"messageId,omitempty"`
	Reason    string        `json:"reason,omitempty"`
	Shortened int           `json:"omittedFromAlert,omitempty"`
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

// Handle is the Lambda entry point.
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
	if mode == notify.ModeChange && h.Config.StateParameter == "" && !req.DryRun {
		return Summary{}, errors.New("notify mode change needs STATE_PARAMETER, which is not configured")
	}
	regions := h.Config.Regions
	if len(req.Regions) > 0 {
		regions = req.Regions
	}
	log.Info("audit started", "scheduled", req.Scheduled, "dryRun", req.DryRun, "notify", mode, "regions", regions)

	rep, collectTime := h.audit(ctx, regions)
	logReport(log, rep)
	sum := summarize(rep, h.Config.MinSeverity)
	sum.Mode = mode
	sum.Timing = map[string]int{"collect": int(collectTime.Milliseconds())}
	if req.DryRun {
		sum.Reason = "dry run: nothing published"
		sum.Report, sum.OmittedFromResponse = responseReport(rep, maxResponseReportBytes)
		if sum.OmittedFromResponse > 0 {
			sum.ReportNote = omittedNote(sum.OmittedFromResponse, h.Config)
		}
		return sum, nil
	}
	if h.Config.SecurityHub {
		sum = h.deliverToSecurityHub(ctx, rep, sum)
	}
	return h.notify(ctx, rep, mode, sum)
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

// notify publishes the alert when the mode says so, and in change mode
// remembers what was alerted.
func (h *Handler) notify(ctx context.Context, rep *audit.Report, mode string, sum Summary) (Summary, error) {
	log := h.logger()
	store := notify.StateStore{Client: h.SSM, Parameter: h.Config.StateParameter}
	var last notify.State
	if mode == notify.ModeChange {
		var err error
		if last, _, err = store.Load(ctx); err != nil {
			log.Error("state unreadable", "error", err.Error())
			return sum, err
		}
	}
	publish, reason := notify.Decide(mode, rep, h.Config.MinSeverity, last)
	if publish {
		msg, id, err := h.publish(ctx, rep)
		if err != nil {
			return sum, err
		}
		sum.Published, sum.MessageID, sum.Shortened = true, id, msg.Omitted
	} else {
		sum.Reason = reason
	}
	// Change mode remembers complete runs only: a partial view must not
	// become the baseline that the next full run is compared with.
	if mode == notify.ModeChange && rep.Complete {
		if err := store.Save(ctx, notify.StateFor(rep, h.Config.MinSeverity)); err != nil {
			log.Error("state not saved", "error", err.Error())
			return sum, err
		}
	}
	return sum, nil
}

func (h *Handler) publish(ctx context.Context, rep *audit.Report) (notify.Message, string, error) {
	log := h.logger()
	msg, err := notify.Build(rep, notify.Context{
		AccountID: rep.AccountID, LogGroup: h.Config.LogGroup, LogStream: h.Config.LogStream,
		MinSeverity: h.Config.MinSeverity, Now: h.now(),
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
