// Package cli is the command-line face of the tool: it parses arguments,
// runs the audit (pkg/run) or a remediation, writes the report, and maps
// the outcome to an exit status.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses.
const (
	ExitClean    = 0 // complete audit, nothing at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on
	ExitTrouble  = 2 // usage error, unreadable input, or incomplete audit
)

// Env looks up an environment variable.
type Env func(string) string

const synopsis = `usage:
  lambda-role-audit [--snapshot DIR] [--regions LIST] [--format text|json|asff] [--fail-on SEVERITY]
                    [--publish TOPIC_ARN] [--security-hub [--security-hub-region REGION]]
                    [--min-severity SEVERITY] [--timeout DURATION] [--verbose]
  lambda-role-audit plan --function ARN [--snapshot DIR] [--format cli|cloudformation|terraform|json] [--usage]
  lambda-role-audit remediate --function ARN [--yes] [--with-observed]
  lambda-role-audit COMMAND --help
`

const overview = `
Audits Lambda execution roles: which are shared by several functions, and
which grant admin privileges. Live mode uses the default AWS credential chain
(AWS_PROFILE, aws configure, environment variables; AWS_ENDPOINT_URL is
honoured); --snapshot DIR reads AWS CLI exports instead (see
deploy/export-snapshot.sh). --regions picks the live regions, or filters a
snapshot's.

commands:
  (none)     audit the account and print the report
  plan       print one function's least-privilege role (changes nothing)
  remediate  switch one function to that role (prints first; --yes applies)

exit status: 0 complete and no finding at or above --fail-on; 1 such
findings exist; 2 usage error, unreadable input, incomplete audit, or
findings that --security-hub could not import.
`

// Run executes the command line and returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	if len(args) > 0 {
		switch args[0] {
		case "plan", "remediate":
			return runRemediation(ctx, args[0], args[1:], stdout, stderr)
		case "help":
			return runAudit(ctx, []string{"--help"}, stdout, stderr, env)
		}
	}
	return runAudit(ctx, args, stdout, stderr, env)
}

// parse parses a command's flags. --help and -h print the command's help
// on stdout; a bad flag is reported on stderr. done is true when the
// command should stop with status.
func parse(fs *flag.FlagSet, args []string, help string, stdout, stderr io.Writer) (status int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, help)
		printFlags(stdout, fs)
		return ExitClean, true
	case err != nil:
		return usageError(stderr, err.Error()), true
	case fs.NArg() > 0:
		return usageError(stderr, fmt.Sprintf("unexpected argument %q", fs.Arg(0))), true
	}
	return 0, false
}

// printFlags lists a command's flags as they are written: --name VALUE.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if value != "" {
			line += " " + value
		}
		if f.DefValue != "" && f.DefValue != "false" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, usage)
	})
}

// setFlags names the flags given on the command line, set even to "".
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "lambda-role-audit: %s\n%s", msg, synopsis)
	return ExitTrouble
}

// fail reports an error that is not a usage error: one line, no synopsis.
func fail(stderr io.Writer, prefix string, err error) int {
	fmt.Fprintf(stderr, "%s: %s\n", prefix, strings.TrimSpace(err.Error()))
	return ExitTrouble
}
