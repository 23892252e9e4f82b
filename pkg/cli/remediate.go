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
)

const planHelp = `usage:
  lambda-role-audit plan --function ARN [--snapshot DIR] [--format cli|cloudformation|terraform|json]

Prints one function's least-privilege role, worked out from its
configuration and event source mappings: as AWS CLI commands, a
CloudFormation AWS::IAM::Role, Terraform, or JSON. Changes nothing.

flags:
`

const remediateHelp = `usage:
  lambda-role-audit remediate --function ARN [--yes]

Prints the plan (see lambda-role-audit plan --help) and what it cannot
know, and changes nothing. With --yes it first checks that the function is
in the credentials' account, then creates the role (or reuses one this tool
made for the function that matches the plan), attaches its policies, waits
until Lambda can assume it, switches the function and reads it back. It
never changes the function's old role. Running it twice is harmless.

flags:
`

type remediationFlags struct {
	function, format, snapshot string
	yes                        bool
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
	} else {
		fs.BoolVar(&f.yes, "yes", false, "apply the plan (without it, only print it)")
	}
	if status, done := parse(fs, args, help, stdout, stderr); done {
		return status
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
		plan, err = planLive(ctx, f.function)
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
	return apply(ctx, plan, stdout, stderr)
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
	return nil
}

// apply carries the plan out. The notes printed with the plan above come
// first, whether or not a terminal is watching; they are repeated last, as
// what remains to check.
func apply(ctx context.Context, plan remediation.Plan, stdout, stderr io.Writer) int {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return fail(stderr, "lambda-role-audit remediate", err)
	}
	applier := awsenv.Applier(cfg, plan.Region)
	applier.Log = stdout
	fmt.Fprintln(stdout, "# Applying the plan above.")
	if err := applier.Apply(ctx, plan); err != nil {
		return fail(stderr, "lambda-role-audit remediate", err)
	}
	for _, u := range plan.Unknowns {
		fmt.Fprintf(stdout, "still to check: %s\n", u)
	}
	return ExitClean
}

func planLive(ctx context.Context, arn string) (remediation.Plan, error) {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return remediation.Plan{}, err
	}
	if err := awsenv.CheckCredentials(ctx, cfg); err != nil {
		return remediation.Plan{}, err
	}
	fn, mappings, read, err := awsenv.Collector(cfg).Function(ctx, arn)
	if err != nil {
		return remediation.Plan{}, err
	}
	return remediation.New(fn, mappings, read), nil
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
