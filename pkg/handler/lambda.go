package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"lambda-role-audit/pkg/awsenv"
	"lambda-role-audit/pkg/notify"
)

// Entry is the function the Lambda runtime invokes.
type Entry func(ctx context.Context, raw json.RawMessage) (any, error)

// New builds the production handler from the environment. A configuration
// error does not stop the runtime: every invocation returns it, so it shows
// in the console's Test output and fires the error alarm.
func New(ctx context.Context, env func(string) string) Entry {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := loadConfig(env)
	if err != nil {
		log.Error("configuration rejected", "error", err.Error())
		return func(context.Context, json.RawMessage) (any, error) { return nil, err }
	}
	if env("STATE_PARAMETER") != "" {
		// NOTIFY_ON=change kept a digest in SSM before the state moved to S3.
		log.Warn("STATE_PARAMETER is no longer used and is ignored: the state is the last complete report in STATE_BUCKET")
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		log.Error("AWS configuration failed", "error", err.Error())
		return func(context.Context, json.RawMessage) (any, error) { return nil, err }
	}
	collector := awsenv.Collector(awsCfg)
	collector.Logger = log
	h := &Handler{Config: cfg, Source: collector, SNS: sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.Region = notify.TopicRegion(cfg.TopicARN) }), Logger: log}
	if cfg.StateBucket != "" {
		// Path-style addressing only against a test endpoint
		// (AWS_ENDPOINT_URL), where bucket subdomains do not resolve.
		h.S3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = awsCfg.BaseEndpoint != nil })
	}
	if cfg.UsageEvidence {
		h.CloudTrail = awsenv.CloudTrail(awsCfg)
	}
	if cfg.SecurityHub {
		h.SecurityHub = securityhub.NewFromConfig(awsCfg, func(o *securityhub.Options) { o.Region = cfg.SecurityHubRegion })
	}
	return h.Invoke
}
