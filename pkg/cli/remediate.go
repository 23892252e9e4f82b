package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"lambda-role-audit/pkg/awsenv"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/remediation"
)

const planUsage = `usage:
  lambda-role-audit plan --function ARN [--format cli|cloudformation|terraform|json] [--snapshot DIR]
  lambda-role-audit remediate --function ARN [--yes]

plan prints one function's least-privilege role, worked out from its
configuration and event source mappings: as AWS CLI commands, a
CloudFormation AWS::IAM::Role, or Terraform.

remediate prints what it would do and changes nothing; with --yes it creates
the role (or reuses a matching one), attaches its policies, waits until the
role is usable, switches the function to it and reads the function back. It
never changes the function's old role. Running it twice is harmless.

flags:
`

func runRemediation(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, env Env) int {
	fs := flag.NewFlagSet("lambda-role-audit "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	function := fs.String("function", "", "the function's ARN")
	format := "cli"
	snapshot, yes := "", false
	if cmd == "plan" {
		fs.StringVar(&format, "format", "cli", "cli, cloudformation, terraform or json")
		fs.StringVar(&snapshot, "snapshot", "", "read the function from a snapshot directory instead of the live account")
	} else {
		fs.BoolVar(&yes, "yes", false, "apply the plan (without it, only print it)")
	}
	fs.Usage = func() { fmt.Fprint(stderr, planUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitClean
		}
		return ExitTrouble
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fmt.Sprintf("%s: unexpected argument %q", cmd, fs.Arg(0)))
	}
	if *function == "" {
		return usageError(stderr, cmd+": --function ARN is required")
	}
	if _, err := inventory.ParseFunctionARN(*function); err != nil {
		return usageError(stderr, cmd+": --function: "+err.Error())
	}
	if format != "json" {
		if _, err := remediation.Render(remediation.Plan{}, format); err != nil {
			return usageError(stderr, cmd+": --format: "+err.Error())
		}
	}

	var plan remediation.Plan
	var err error
	if snapshot != "" {
		plan, err = planFromSnapshot(snapshot, *function)
	} else {
		plan, err = planLive(ctx, *function)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lambda-role-audit %s: %v\n", cmd, err)
		return ExitTrouble
	}

	if cmd == "plan" || !yes {
		if format == "json" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(plan)
			return ExitClean
		}
		out, _ := remediation.Render(plan, format)
		fmt.Fprint(stdout, out)
		if cmd == "remediate" {
			fmt.Fprintln(stdout, "# Dry run: nothing was changed. Run again with --yes to apply.")
		}
		return ExitClean
	}

	cfg, err := awsenv.Load(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "lambda-role-audit remediate: %v\n", err)
		return ExitTrouble
	}
	applier := awsenv.Applier(cfg, plan.Region)
	applier.Log = stdout
	if err := applier.Apply(ctx, plan); err != nil {
		fmt.Fprintf(stderr, "lambda-role-audit remediate: %v\n", err)
		return ExitTrouble
	}
	for _, u := range plan.Unknowns {
		fmt.Fprintf(stdout, "note: %s\n", u)
	}
	return ExitClean
}

func planLive(ctx context.Context, arn string) (remediation.Plan, error) {
	cfg, err := awsenv.Load(ctx)
	if err != nil {
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
