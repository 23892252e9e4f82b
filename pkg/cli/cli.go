// Package cli is the command-line face of the tool: it parses arguments,
// runs collect → evaluate → report, and maps the outcome to an exit status.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/awsenv"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/notify"
	"lambda-role-audit/pkg/render"
	"lambda-role-audit/pkg/run"
)

// Exit statuses.
const (
	ExitClean    = 0 // complete audit, nothing at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on
	ExitTrouble  = 2 // usage error, unreadable input, or incomplete audit
)

// Env looks up an environment variable.
type Env func(string) string

const usage = `usage:
  lambda-role-audit [--snapshot DIR | --regions LIST] [--format text|json] [--fail-on SEVERITY]
                    [--publish TOPIC_ARN [--min-severity SEVERITY]] [--timeout DURATION]
  lambda-role-audit plan --function ARN [--format cli|cloudformation|terraform|json]
  lambda-role-audit remediate --function ARN [--yes]      (see: lambda-role-audit plan -h)

Audits Lambda execution roles: which are shared by several functions, and
which grant admin privileges. Live mode uses the default AWS credential chain
(AWS_ENDPOINT_URL is honoured); --snapshot reads AWS CLI exports instead
(see deploy/export-snapshot.sh).

exit status: 0 complete and no finding at or above --fail-on; 1 such
findings exist; 2 usage error, unreadable input or incomplete audit.

flags:
`

// Run executes the command line and returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	if len(args) > 0 {
		switch args[0] {
		case "plan", "remediate":
			return runRemediation(ctx, args[0], args[1:], stdout, stderr, env)
		}
	}
	return runAudit(ctx, args, stdout, stderr, env)
}

type auditFlags struct {
	snapshot    string
	regions     string
	format      string
	failOn      string
	publish     string
	minSeverity string
	timeout     time.Duration
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	fs := flag.NewFlagSet("lambda-role-audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f auditFlags
	fs.StringVar(&f.snapshot, "snapshot", "", "audit an offline snapshot directory of AWS CLI exports instead of the live account")
	fs.StringVar(&f.regions, "regions", "", "comma-separated regions to audit (default: $AUDIT_REGIONS, else every enabled region)")
	fs.StringVar(&f.format, "format", "text", "output format: text or json")
	fs.StringVar(&f.failOn, "fail-on", "low", "lowest severity that makes the exit status 1: critical, high, medium or low")
	fs.StringVar(&f.publish, "publish", "", "also publish the alert to this SNS topic ARN when there are findings at or above --min-severity, or the audit is incomplete")
	fs.StringVar(&f.minSeverity, "min-severity", "medium", "with --publish: the lowest severity that alerts")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Minute, "stop collecting after this long and report what was read, marked incomplete")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitClean
		}
		return ExitTrouble
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	minSeverity, err := audit.ParseSeverity(f.minSeverity)
	if err != nil {
		return usageError(stderr, "--min-severity: "+err.Error())
	}
	if f.publish != "" {
		if err := notify.CheckTopicARN(f.publish); err != nil {
			return usageError(stderr, "--publish: "+err.Error())
		}
	}
	if f.format != "text" && f.format != "json" {
		return usageError(stderr, fmt.Sprintf("--format must be text or json, not %q", f.format))
	}
	failOn, err := audit.ParseSeverity(f.failOn)
	if err != nil {
		return usageError(stderr, "--fail-on: "+err.Error())
	}
	regionList := f.regions
	if regionList == "" && f.snapshot == "" {
		regionList = env("AUDIT_REGIONS")
	}
	regions, err := inventory.ParseRegions(regionList)
	if err != nil {
		return usageError(stderr, "regions: "+err.Error())
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	strategy := inventory.IAMStrategy(env("AUDIT_IAM_STRATEGY"))
	if strategy != "" && strategy != inventory.StrategyBulk && strategy != inventory.StrategyPerRole {
		return usageError(stderr, fmt.Sprintf("AUDIT_IAM_STRATEGY must be %s or %s, not %q", inventory.StrategyBulk, inventory.StrategyPerRole, strategy))
	}
	if f.timeout <= 0 {
		return usageError(stderr, "--timeout must be positive")
	}
	src, err := source(ctx, f.snapshot, strategy, logger)
	if err != nil {
		fmt.Fprintf(stderr, "lambda-role-audit: %v\n", err)
		return ExitTrouble
	}
	res, err := run.Audit(ctx, src, run.Options{Regions: regions, CollectDeadline: time.Now().Add(f.timeout)})
	if err != nil {
		fmt.Fprintf(stderr, "lambda-role-audit: %v\n", err)
		return ExitTrouble
	}
	report := res.Report
	if err := writeReport(stdout, report, f.format); err != nil {
		fmt.Fprintf(stderr, "lambda-role-audit: write report: %v\n", err)
		return ExitTrouble
	}
	if publish, _ := notify.Decide(notify.ModeFindings, report, minSeverity, notify.State{}); f.publish != "" && publish {
		if err := publishAlert(ctx, report, f.publish, minSeverity, stderr); err != nil {
			fmt.Fprintf(stderr, "lambda-role-audit: %v\n", err)
			return ExitTrouble
		}
	}
	return exitStatus(report, failOn)
}

// source is the snapshot directory when one is given, else the live
// account through the default credential chain.
func source(ctx context.Context, snapshot string, strategy inventory.IAMStrategy, logger *slog.Logger) (run.Source, error) {
	if snapshot != "" {
		return inventory.Snapshot{Dir: snapshot}, nil
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	collector := awsenv.Collector(cfg)
	collector.Logger = logger
	collector.Strategy = strategy
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

func writeReport(w io.Writer, r *audit.Report, format string) error {
	if format == "json" {
		// Compact: the JSON form is for programs (pipe it to jq to read
		// it), and a 10,000-function report indents slowly.
		return json.NewEncoder(w).Encode(r)
	}
	return render.WriteText(w, r)
}

// exitStatus maps a report to the command's exit status. An incomplete
// audit is never a pass, whatever it found.
func exitStatus(r *audit.Report, failOn audit.Severity) int {
	if !r.Complete {
		return ExitTrouble
	}
	for _, f := range r.Findings {
		if !f.Suppressed && f.Severity.AtLeast(failOn) {
			return ExitFindings
		}
	}
	return ExitClean
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "lambda-role-audit: %s\n%s", msg, strings.SplitN(usage, "\n\n", 2)[0]+"\n")
	return ExitTrouble
}
