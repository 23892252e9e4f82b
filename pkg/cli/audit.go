package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"lambda-role-audit/pkg/asff"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/awsenv"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/notify"
	"lambda-role-audit/pkg/render"
	"lambda-role-audit/pkg/run"
)

type auditFlags struct {
	snapshot    string
	regions     string
	format      string
	failOn      string
	publish     string
	minSeverity string
	timeout     time.Duration
	verbose     bool
	securityHub bool
	hubRegion   string
}

// auditOptions are the audit command's flags, checked.
type auditOptions struct {
	snapshot    string
	regions     []string // nil: every region (live) or every exported one
	format      string
	failOn      audit.Severity
	publish     string
	minSeverity audit.Severity
	timeout     time.Duration
	verbose     bool
	strategy    inventory.IAMStrategy
	securityHub bool
	// hubRegion is where Security Hub findings go (--security-hub, and the
	// product ARN of --format asff).
	hubRegion string
}

func auditFlagSet(f *auditFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("lambda-role-audit", flag.ContinueOnError)
	fs.StringVar(&f.snapshot, "snapshot", "", "audit `DIR`, a snapshot of AWS CLI exports, instead of the live account")
	fs.StringVar(&f.regions, "regions", "", "comma-separated `LIST` of regions: the live regions to audit (default $AUDIT_REGIONS, else every enabled region), or the snapshot's regions to keep")
	fs.StringVar(&f.format, "format", "text", "output `FORMAT`: text, json, or asff (the findings at or above --min-severity as AWS Security Finding Format, for importing by other means)")
	fs.StringVar(&f.failOn, "fail-on", "low", "lowest `SEVERITY` that makes the exit status 1: critical, high, medium or low")
	fs.StringVar(&f.publish, "publish", "", "also publish the alert to this SNS `TOPIC_ARN` when there are findings at or above --min-severity, or the audit is incomplete")
	fs.StringVar(&f.minSeverity, "min-severity", "medium", "with --publish, --security-hub or --format asff: the lowest `SEVERITY` that alerts or becomes a Security Hub finding")
	fs.BoolVar(&f.securityHub, "security-hub", false, "also import the findings at or above --min-severity into the account's AWS Security Hub, and archive those a complete audit no longer finds")
	fs.StringVar(&f.hubRegion, "security-hub-region", "", "the `REGION` of the Security Hub that receives findings (default: the credentials' region)")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Minute, "stop collecting after this `DURATION` and report what was read, marked incomplete")
	fs.BoolVar(&f.verbose, "verbose", false, "log progress and retries as JSON on stderr")
	return fs
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	var f auditFlags
	fs := auditFlagSet(&f)
	if status, done := parse(fs, args, synopsis+overview+"\nflags:\n", stdout, stderr); done {
		return status
	}
	opts, err := checkAuditFlags(f, setFlags(fs), env)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	logger := slog.New(slog.DiscardHandler)
	if opts.verbose {
		logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	src, err := source(ctx, opts, logger)
	if err != nil {
		if errors.Is(err, errUsage) {
			return usageError(stderr, err.Error())
		}
		return fail(stderr, "lambda-role-audit", err)
	}
	res, err := run.Audit(ctx, src, run.Options{Regions: opts.regions, CollectDeadline: time.Now().Add(opts.timeout)})
	if err != nil {
		return fail(stderr, "lambda-role-audit", err)
	}
	report := res.Report
	logger.Info("audit done", "functions", report.Functions, "regions", report.Regions, "findings", len(report.Findings),
		"complete", report.Complete, "collectMs", res.Collect.Milliseconds())
	if opts.securityHub {
		deliverToSecurityHub(ctx, report, opts, stderr)
	}
	if err := writeReport(stdout, report, opts); err != nil {
		return fail(stderr, "lambda-role-audit: write report", err)
	}
	if publish, _ := notify.Decide(notify.ModeFindings, report, opts.minSeverity); opts.publish != "" && publish {
		if err := publishAlert(ctx, report, opts.publish, opts.minSeverity, stderr); err != nil {
			return fail(stderr, "lambda-role-audit", err)
		}
	}
	return exitStatus(report, opts.failOn)
}

// checkAuditFlags turns flags into options. A flag given with an empty or
// unusable value is a usage error, never a silent switch to a default
// (live instead of a snapshot, every region instead of a list).
func checkAuditFlags(f auditFlags, set map[string]bool, env Env) (auditOptions, error) {
	o := auditOptions{snapshot: f.snapshot, format: f.format, publish: f.publish, timeout: f.timeout, verbose: f.verbose}
	var err error
	if set["snapshot"] && strings.TrimSpace(f.snapshot) == "" {
		return o, errors.New("--snapshot needs a directory")
	}
	if f.format != "text" && f.format != "json" && f.format != "asff" {
		return o, fmt.Errorf("--format must be text, json or asff, not %q", f.format)
	}
	if o.failOn, err = audit.ParseSeverity(f.failOn); err != nil {
		return o, fmt.Errorf("--fail-on: %w", err)
	}
	if set["min-severity"] && f.publish == "" && !f.securityHub && f.format != "asff" {
		return o, errors.New("--min-severity only sets which findings --publish, --security-hub and --format asff send; use --fail-on for the exit status")
	}
	if err := checkHubFlags(&o, f, set, env); err != nil {
		return o, err
	}
	if o.minSeverity, err = audit.ParseSeverity(f.minSeverity); err != nil {
		return o, fmt.Errorf("--min-severity: %w", err)
	}
	if set["publish"] {
		if err := notify.CheckTopicARN(f.publish); err != nil {
			return o, fmt.Errorf("--publish: %w", err)
		}
	}
	if f.timeout <= 0 {
		return o, errors.New("--timeout must be positive")
	}
	switch {
	case set["regions"]:
		if o.regions, err = regionList(f.regions); err != nil {
			return o, fmt.Errorf("--regions: %w", err)
		}
	case f.snapshot == "" && env("AUDIT_REGIONS") != "":
		if o.regions, err = regionList(env("AUDIT_REGIONS")); err != nil {
			return o, fmt.Errorf("AUDIT_REGIONS: %w", err)
		}
	}
	o.strategy = inventory.IAMStrategy(env("AUDIT_IAM_STRATEGY"))
	if o.strategy != "" && o.strategy != inventory.StrategyBulk && o.strategy != inventory.StrategyPerRole {
		return o, fmt.Errorf("AUDIT_IAM_STRATEGY must be %s or %s, not %q", inventory.StrategyBulk, inventory.StrategyPerRole, o.strategy)
	}
	return o, nil
}

// regionList parses a region list strictly: every element must be a
// region name, and the list must name at least one.
func regionList(list string) ([]string, error) {
	var out []string
	for i, r := range strings.Split(list, ",") {
		r = strings.TrimSpace(r)
		switch {
		case r == "":
			return nil, fmt.Errorf("%q has an empty region name (element %d): omit the flag to audit every enabled region", list, i+1)
		case !inventory.ValidRegion(r):
			return nil, fmt.Errorf("%q is not a region name (expected something like us-east-1)", r)
		case !slices.Contains(out, r):
			out = append(out, r)
		}
	}
	return out, nil
}

// errUsage marks errors found while setting up the source that are the
// caller's to fix in the command line.
var errUsage = errors.New("usage")

type usageErr struct{ msg string }

func (e usageErr) Error() string        { return e.msg }
func (e usageErr) Is(target error) bool { return target == errUsage }

// source is the snapshot directory when one is given, else the live
// account through the default credential chain, after checking that there
// are credentials and that the requested regions are enabled.
func source(ctx context.Context, o auditOptions, logger *slog.Logger) (run.Source, error) {
	if o.snapshot != "" {
		return inventory.Snapshot{Dir: o.snapshot}, nil
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	if err := awsenv.CheckCredentials(ctx, cfg); err != nil {
		return nil, err
	}
	collector := awsenv.Collector(cfg)
	collector.Logger = logger
	collector.Strategy = o.strategy
	if len(o.regions) > 0 {
		// An unknown region would only show up as a failed region of an
		// incomplete audit: say it plainly instead. When the list cannot
		// be read, the audit itself reports on each region.
		if enabled, err := collector.ListRegions(ctx); err == nil {
			for _, r := range o.regions {
				if !slices.Contains(enabled, r) {
					return nil, usageErr{fmt.Sprintf("--regions: %s is not a region enabled for this account (enabled: %s)", r, strings.Join(enabled, ", "))}
				}
			}
		} else {
			logger.Warn("enabled regions unread; auditing the requested ones as given", "error", err)
		}
	}
	return collector, nil
}

func publishAlert(ctx context.Context, report *audit.Report, topic string, min audit.Severity, stderr io.Writer) error {
	msg, err := notify.Build(report, notify.Context{AccountID: report.AccountID, MinSeverity: min, Now: report.GeneratedAt})
	if err != nil {
		return fmt.Errorf("build alert: %w", err)
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return err
	}
	client := sns.NewFromConfig(cfg, func(o *sns.Options) { o.Region = notify.TopicRegion(topic) })
	id, err := notify.Publish(ctx, client, topic, msg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "lambda-role-audit: alert published to %s (message %s)\n", topic, id)
	return nil
}

func writeReport(w io.Writer, r *audit.Report, o auditOptions) error {
	switch o.format {
	case "asff":
		where, err := asff.WhereFor(r.AccountID, o.hubRegion)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(asff.Map(r, where, o.minSeverity, r.GeneratedAt, nil))
	case "json":
		// Compact: the JSON form is for programs (pipe it to jq to read
		// it), and a 10,000-function report indents slowly.
		return json.NewEncoder(w).Encode(r)
	}
	return render.WriteText(w, r)
}

// exitStatus maps a report to the command's exit status. An incomplete
// audit, or one whose findings did not reach Security Hub, is never a
// pass, whatever it found.
func exitStatus(r *audit.Report, failOn audit.Severity) int {
	if !r.Complete || len(r.DeliveryErrors) > 0 {
		return ExitTrouble
	}
	for _, f := range r.Findings {
		if !f.Suppressed && f.Severity.AtLeast(failOn) {
			return ExitFindings
		}
	}
	return ExitClean
}

// checkHubFlags checks the Security Hub flags and picks the region its
// findings are for: --security-hub-region, else the credentials' region.
func checkHubFlags(o *auditOptions, f auditFlags, set map[string]bool, env Env) error {
	o.securityHub = f.securityHub
	if set["security-hub-region"] && !f.securityHub && f.format != "asff" {
		return errors.New("--security-hub-region only applies with --security-hub or --format asff")
	}
	if f.securityHub && f.snapshot != "" {
		return errors.New("--security-hub imports a live audit of the current account; it cannot be used with --snapshot (use --format asff to print the findings)")
	}
	if !f.securityHub && f.format != "asff" {
		return nil
	}
	o.hubRegion = strings.TrimSpace(f.hubRegion)
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if o.hubRegion == "" {
			o.hubRegion = strings.TrimSpace(env(name))
		}
	}
	switch {
	case o.hubRegion == "":
		return errors.New("Security Hub findings need a region: give --security-hub-region (or set AWS_REGION)")
	case !inventory.ValidRegion(o.hubRegion):
		return fmt.Errorf("--security-hub-region: %q is not a region name", o.hubRegion)
	}
	return nil
}

// deliverToSecurityHub imports the findings; a failure is in the report's
// delivery errors (and so in the output and the exit status).
func deliverToSecurityHub(ctx context.Context, report *audit.Report, o auditOptions, stderr io.Writer) {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		report.DeliveryErrors = append(report.DeliveryErrors, audit.Error{Operation: "securityhub", Message: err.Error()})
		return
	}
	client := securityhub.NewFromConfig(cfg, func(opt *securityhub.Options) { opt.Region = o.hubRegion })
	if res, ok := asff.Deliver(ctx, client, report, o.hubRegion, o.minSeverity, report.GeneratedAt); ok {
		fmt.Fprintf(stderr, "lambda-role-audit: Security Hub (%s): %d finding(s) imported, %d archived\n", o.hubRegion, res.Imported, res.Archived)
	}
}
