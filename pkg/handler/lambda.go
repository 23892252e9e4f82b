package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"lambda-role-audit/pkg/awsenv"
	"lambda-role-audit/pkg/notify"
)

// Entry is the function the Lambda runtime invokes.
type Entry func(ctx context.Context, raw json.RawMessage) (Summary, error)

// New builds the production handler from the environment. A configuration
// error does not stop the runtime: every invocation returns it, so it shows
// in the console's Test output and fires the error alarm.
func New(ctx context.Context, env func(string) string) Entry {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := loadConfig(env)
	if err != nil {
		log.Error("configuration rejected", "error", err.Error())
		return func(context.Context, json.RawMessage) (Summary, error) { return Summary{}, err }
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		log.Error("AWS configuration failed", "error", err.Error())
		return func(context.Context, json.RawMessage) (Summary, error) { return Summary{}, err }
	}
	collector := awsenv.Collector(awsCfg)
	collector.Logger = log
	h := &Handler{Config: cfg, Source: collector, SNS: sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.Region = notify.TopicRegion(cfg.TopicARN) }), SSM: ssm.NewFromConfig(awsCfg), Logger: log}
	if cfg.SecurityHub {
		h.SecurityHub = securityhub.NewFromConfig(awsCfg, func(o *securityhub.Options) { o.Region = cfg.SecurityHubRegion })
	}
	return h.Handle
}
