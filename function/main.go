// Command lambda-role-audit audits Lambda execution roles. Inside AWS Lambda
// it is the scheduled audit function; anywhere else it is the command-line
// audit. This file only wires the two faces to the packages that do the work.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"lambda-role-audit/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
