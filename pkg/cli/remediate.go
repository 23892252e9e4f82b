package cli

import (
	"context"
	"fmt"
	"io"
)

func runRemediation(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, env Env) int {
	fmt.Fprintf(stderr, "lambda-role-audit %s: not available yet\n", cmd)
	return ExitTrouble
}
