// Command lambda-role-audit audits Lambda execution roles. Inside AWS Lambda
// it is the scheduled audit function; anywhere else it is the command-line
// audit. This file only wires the two faces to the packages that do the work.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"

	"lambda-role-audit/pkg/cli"
	"lambda-role-audit/pkg/handler"
)

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		lambda.Start(handler.New(context.Background(), os.Getenv))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
