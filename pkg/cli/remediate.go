package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"lambda-role-audit/pkg/awsenv"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/remediation"
	"lambda-role-audit/pkg/usage"
)

const planHelp = `usage:
  lambda-role-audit plan --function ARN [--snapshot DIR] [--format cli|cloudformation|terraform|json]
                         [--usage [--usage-days N] [--usage-max-calls N]]

Prints one function's least-privilege role, worked out from its
configuration and event source mappings: as AWS CLI commands, a
CloudFormation AWS::IAM::Role, Terraform, or JSON. Changes nothing.

With --usage (live only) it also reads what the function itself called in
CloudTrail event history (its own session on its role: another function
of the same role does not count), and drafts the policy observed-usage
with exactly those actions on exactly those resources, to review.

flags:
`

const remediateHelp = `usage:
  lambda-role-audit remediate --function ARN [--yes] [--with-observed [--usage-days N] [--usage-max-calls N]]

Prints the plan (see lambda-role-audit plan --help) and what it cannot
know, and changes nothing. With --yes it first checks that the function is
in the credentials' account, then creates the role (or reuses one this tool
made for the function that matches the plan), attaches its policies, waits
until Lambda can assume it, switches the function and reads it back. It
never changes the function's old role. Running it twice is harmless.
--with-observed also reads the function's calls from CloudTrail (as plan
--usage does) and puts the observed-usage policy on the new role.

flags:
`

type remediationFlags struct {
	function, format, snapshot string
	yes, usage, withObserved   bool
	usageDays, usageMaxCalls   int
}

func runRemediation(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lambda-role-audit "+cmd, flag.ContinueOnError)
	f := remediationFlags{format: "cli"}
	fs.StringVar(&f.function, "function", "", "the function's `ARN` (arn:aws:lambda:<region>:<account>:function:<name>)")
	help := remediateHelp
	if cmd == "plan" {
		help = planHelp
		fs.StringVar(&f.format, "format", "cli", "output `FORMAT`: cli, cloudformation, terraform or json")
		fs.StringVar(&f.snapshot, "snapshot", "", "read the function from `DIR`, a snapshot of AWS CLI exports, instead of the live account")
		fs.BoolVar(&f.usage, "usage", false, "add the function's own calls from CloudTrail event history, and the observed-usage policy drafted from them (live only)")
	} else {
		fs.BoolVar(&f.yes, "yes", false, "apply the plan (without it, only print it)")
		fs.BoolVar(&f.withObserved, "with-observed", false, "read the function's calls from CloudTrail and also put the observed-usage policy on the new role")
	}
	fs.IntVar(&f.usageDays, "usage-days", usage.DefaultDays, "with --usage: how many `DAYS` of event history to read (at most 90)")
	fs.IntVar(&f.usageMaxCalls, "usage-max-calls", usage.DefaultMaxCalls, "with --usage: at most `N` LookupEvents calls for the function (CloudTrail allows 2 a second)")
	if status, done := parse(fs, args, help, stdout, stderr); done {
		return status
	}
	if f.withObserved {
		f.usage = true
	}
	if err := checkRemediationFlags(f, setFlags(fs)); err != nil {
		return usageError(stderr, cmd+": "+err.Error())
	}
	prefix := "lambda-role-audit " + cmd
	var plan remediation.Plan
	var err error
	if f.snapshot != "" {
		plan, err = planFromSnapshot(f.snapshot, f.function)
	} else {
		plan, err = planLive(ctx, f)
	}
	if err != nil {
		return fail(stderr, prefix, err)
	}
	if f.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			return fail(stderr, prefix, err)
		}
		return ExitClean
	}
	out, _ := remediation.Render(plan, f.format) // the format was checked
	fmt.Fprint(stdout, out)
	if cmd == "plan" {
		return ExitClean
	}
	if !f.yes {
		fmt.Fprintln(stdout, "# Dry run: nothing was changed. Read the notes above, then run again with --yes to apply.")
		return ExitClean
	}
	return apply(ctx, plan, f.withObserved, stdout, stderr)
}

func checkRemediationFlags(f remediationFlags, set map[string]bool) error {
	if f.function == "" {
		return errors.New("--function ARN is required")
	}
	if _, err := inventory.ParseFunctionARN(f.function); err != nil {
		return fmt.Errorf("--function: %w", err)
	}
	if set["snapshot"] && strings.TrimSpace(f.snapshot) == "" {
		return errors.New("--snapshot needs a directory")
	}
	if f.format != "json" && !slices.Contains(remediation.Formats, f.format) {
		return fmt.Errorf("--format must be %s or json, not %q", strings.Join(remediation.Formats, ", "), f.format)
	}
	if (set["usage-days"] || set["usage-max-calls"]) && !f.usage {
		return errors.New("--usage-days and --usage-max-calls apply only with --usage (plan) or --with-observed (remediate)")
	}
	if f.usage && f.snapshot != "" {
		return errors.New("--usage reads CloudTrail in the live account; it cannot be used with --snapshot")
	}
	if f.usageDays < 1 || f.usageDays > usage.MaxDays {
		return fmt.Errorf("--usage-days must be between 1 and %d (CloudTrail keeps 90 days of event history), not %d", usage.MaxDays, f.usageDays)
	}
	if f.usageMaxCalls < 1 {
		return fmt.Errorf("--usage-max-calls must be at least 1, not %d", f.usageMaxCalls)
	}
	return nil
}

// apply carries the plan out. The notes printed with the plan above come
// first, whether or not a terminal is watching; they are repeated last, as
// what remains to check.
func apply(ctx context.Context, plan remediation.Plan, withObserved bool, stdout, stderr io.Writer) int {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return fail(stderr, "lambda-role-audit remediate", err)
	}
	applier := awsenv.Applier(cfg, plan.Region)
	applier.Log = stdout
	applier.WithObserved = withObserved
	fmt.Fprintln(stdout, "# Applying the plan above.")
	if withObserved {
		fmt.Fprintf(stdout, "# --with-observed: the role also gets the policy %s drafted from CloudTrail (above); review it.\n", remediation.ObservedPolicyName)
	}
	if err := applier.Apply(ctx, plan); err != nil {
		return fail(stderr, "lambda-role-audit remediate", err)
	}
	for _, u := range plan.Unknowns {
		fmt.Fprintf(stdout, "still to check: %s\n", u)
	}
	return ExitClean
}

func planLive(ctx context.Context, f remediationFlags) (remediation.Plan, error) {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return remediation.Plan{}, err
	}
	if err := awsenv.CheckCredentials(ctx, cfg); err != nil {
		return remediation.Plan{}, err
	}
	fn, mappings, read, err := awsenv.Collector(cfg).Function(ctx, f.function)
	if err != nil {
		return remediation.Plan{}, err
	}
	plan := remediation.New(fn, mappings, read)
	if f.usage {
		ev := usage.Observe(ctx, fn, usage.Options{Days: f.usageDays, MaxCalls: f.usageMaxCalls, Client: awsenv.CloudTrail(cfg)})
		remediation.AddEvidence(&plan, ev.Observed, ev.Window)
	}
	return plan, nil
}

func planFromSnapshot(dir, arn string) (remediation.Plan, error) {
	acct, err := inventory.LoadSnapshot(dir, nil)
	if err != nil {
		return remediation.Plan{}, err
	}
	for _, fn := range acct.Functions {
		if fn.ARN == arn || strings.TrimSuffix(arn, ":$LATEST") == fn.ARN {
			mappings, read := acct.MappingsFor(fn)
			return remediation.New(fn, mappings, read), nil
		}
	}
	return remediation.Plan{}, fmt.Errorf("function %s is not in the snapshot %s", arn, dir)
}
