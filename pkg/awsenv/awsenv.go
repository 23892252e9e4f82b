// Package awsenv builds the AWS SDK clients the tool uses, with one retry
// policy for all of them. It is the only place that knows how credentials,
// regions and endpoints are found (the SDK's default chain, which honours
// AWS_ENDPOINT_URL).
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/remediation"
	"lambda-role-audit/pkg/usage"
)

// DefaultRegion is used for global calls when no region is configured.
const DefaultRegion = "us-east-1"

// MaxAttempts bounds retries of one call; in practice the caller's context
// deadline ends a retry loop first, so a retry never outlives the
// invocation.
const MaxAttempts = 50

// Load reads the default configuration (environment, shared files, the
// Lambda execution role) with the tool's retry policy.
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryer(NewRetryer))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return cfg, nil
}

// NewRetryer retries throttling, server errors and dropped connections,
// adaptively: the SDK's adaptive mode rate-limits each client once it is
// throttled, so sustained throttling costs few wasted calls (measured on the
// benchmark's per-role read at IAM's 20 calls a second: 27 throttled calls
// instead of 670, in the same time). Backoff is fully jittered exponential
// from 100 ms to 5 s. Attempts are many and the SDK's retry quota is off:
// the caller's context deadline, not a count, bounds a slow audit, so
// throttling makes it slower, never incomplete.
func NewRetryer() aws.Retryer {
	return failureBound{retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.Throttles = append(o.Throttles, tooManyRequests)
		o.StandardOptions = append(o.StandardOptions, func(o *retry.StandardOptions) {
			o.MaxAttempts = MaxAttempts
			o.RateLimiter = ratelimit.None
			o.Backoff = jitterBackoff{base: 100 * time.Millisecond, max: 5 * time.Second}
			o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(tooManyRequests))
			o.Throttles = append(o.Throttles, tooManyRequests)
		})
	})}
}

// tooManyRequests treats an HTTP 429 as throttling whatever its error code:
// proxies and gateways in front of AWS answer 429 without one.
var tooManyRequests = retry.IsErrorThrottleFunc(func(err error) aws.Ternary {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusTooManyRequests {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
})

// FailureAttempts bounds the attempts at a call that keeps failing for a
// reason other than throttling (5xx answers, dropped connections): a region
// that is down is reported within seconds instead of holding the audit for
// minutes. Throttling alone keeps retrying, up to MaxAttempts and the
// deadline, since it only ever means "slower".
const FailureAttempts = 6

type failureBound struct{ aws.RetryerV2 }

var throttles = retry.IsErrorThrottles(append([]retry.IsErrorThrottle{tooManyRequests}, retry.DefaultThrottles...))

func (f failureBound) RetryDelay(attempt int, err error) (time.Duration, error) {
	if attempt >= FailureAttempts && throttles.IsErrorThrottle(err) != aws.TrueTernary {
		return 0, &retry.MaxAttemptsError{Attempt: attempt, Err: err}
	}
	return f.RetryerV2.RetryDelay(attempt, err)
}

// jitterBackoff is "full jitter" exponential backoff with a base suited to
// AWS control-plane token buckets, which refill several tokens a second:
// the SDK's default one-second base wastes most of a throttled second.
type jitterBackoff struct{ base, max time.Duration }

func (b jitterBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	ceiling := b.base << min(attempt, 16)
	if ceiling > b.max || ceiling <= 0 {
		ceiling = b.max
	}
	return time.Duration(rand.Int64N(int64(ceiling)) + 1), nil
}

// Collector returns a live collector over real clients built from cfg.
func Collector(cfg aws.Config) *inventory.Live {
	lambdas := perRegion(func(region string) *lambda.Client {
		return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.Region = region })
	})
	return &inventory.Live{
		Lambda:  func(region string) inventory.LambdaAPI { return lambdas(region) },
		IAM:     iam.NewFromConfig(cfg),
		Regions: ec2.NewFromConfig(cfg),
		EFS: func(region string) inventory.EFSAPI {
			return efs.NewFromConfig(cfg, func(o *efs.Options) { o.Region = region })
		},
	}
}

// CloudTrail returns a function giving each region's CloudTrail client,
// for usage evidence.
func CloudTrail(cfg aws.Config) func(region string) usage.CloudTrailAPI {
	clients := perRegion(func(region string) *cloudtrail.Client {
		return cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.Region = region })
	})
	return func(region string) usage.CloudTrailAPI { return clients(region) }
}

// perRegion builds a region's client once and hands the same one to every
// caller (clients are safe for concurrent use).
func perRegion[C any](build func(region string) C) func(region string) C {
	var mu sync.Mutex
	clients := map[string]C{}
	return func(region string) C {
		mu.Lock()
		defer mu.Unlock()
		c, ok := clients[region]
		if !ok {
			c = build(region)
			clients[region] = c
		}
		return c
	}
}

// Applier returns a remediation applier for functions in region.
func Applier(cfg aws.Config, region string) *remediation.Applier {
	return &remediation.Applier{
		IAM:    iam.NewFromConfig(cfg),
		Lambda: lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.Region = region }),
		STS:    sts.NewFromConfig(cfg),
	}
}

// CheckCredentials makes sure the credential chain yields credentials
// before any call is made, and says in one line how to provide them when it
// does not: the SDK's own error is a chain of every provider it tried.
func CheckCredentials(ctx context.Context, cfg aws.Config) error {
	if cfg.Credentials == nil {
		return errors.New(noCredentials)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		// The last link of the SDK's chain is the cause; when it is only
		// that no instance role answered, the sentence above says it all.
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		if strings.Contains(msg, "IMDS") || strings.Contains(msg, "EC2 instance") {
			return errors.New(noCredentials)
		}
		return fmt.Errorf("%s (%s)", noCredentials, msg)
	}
	return nil
}

const noCredentials = "no usable AWS credentials: set AWS_PROFILE to a profile from `aws configure` (or `aws configure sso`), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; --snapshot DIR audits an export instead"
