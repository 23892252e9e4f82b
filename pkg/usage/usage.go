// Package usage reads what one Lambda function actually called, from
// CloudTrail event history. Lambda assumes the execution role with the
// function's name as the session name, so every call the function makes
// is recorded as assumed-role/<role>/<function>: that tells one function
// from another even when they share a role, which IAM's last-accessed data
// and policy generation (per role) cannot. Event history holds management
// events only: data events (S3 objects, DynamoDB items, SQS messages,
// Lambda invokes) are not there unless a trail records them.
package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
)

// CloudTrailAPI is the one CloudTrail call usage makes.
type CloudTrailAPI interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, opts ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

// Defaults and bounds.
const (
	DefaultDays     = 30
	MaxDays         = 90 // event history keeps 90 days
	DefaultMaxCalls = 100
)

// Options bound one function's lookup.
type Options struct {
	Days     int
	MaxCalls int
	Now      time.Time
	// Client returns the CloudTrail client of a region.
	Client func(region string) CloudTrailAPI
	// Limiter spaces calls per region (2 a second, as LookupEvents
	// allows); shared by every function of a run.
	Limiter *Limiter
}

// Evidence is what one function was seen calling, and how it was read.
type Evidence struct {
	Observed []audit.ObservedAction
	Window   audit.UsageWindow
}

// Observe reads a function's calls in its own region and, for global
// services (IAM, STS, ...), in its partition's global region.
func Observe(ctx context.Context, fn inventory.Function, opts Options) Evidence {
	opts = opts.withDefaults()
	ev := Evidence{Window: audit.UsageWindow{Days: opts.Days, Regions: regionsFor(fn)}}
	session, err := sessionARN(fn)
	if err != nil {
		ev.Window.Errors = append(ev.Window.Errors, err.Error())
		return ev
	}
	agg := aggregator{}
	for _, region := range ev.Window.Regions {
		if err := lookup(ctx, fn, region, session, opts, &ev.Window, &agg); err != nil {
			ev.Window.Errors = append(ev.Window.Errors, fmt.Sprintf("%s: %v", region, err))
		}
	}
	ev.Observed = agg.result()
	return ev
}

func (o Options) withDefaults() Options {
	if o.Days <= 0 {
		o.Days = DefaultDays
	}
	o.Days = min(o.Days, MaxDays)
	if o.MaxCalls <= 0 {
		o.MaxCalls = DefaultMaxCalls
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Limiter == nil {
		o.Limiter = NewLimiter(DefaultInterval)
	}
	return o
}

// regionsFor: the function's region, then the global region of its
// partition, where IAM's and STS's global events are recorded.
func regionsFor(fn inventory.Function) []string {
	global := "us-east-1"
	switch {
	case strings.HasPrefix(fn.Region, "cn-"):
		global = "cn-north-1"
	case strings.HasPrefix(fn.Region, "us-gov-"):
		global = "us-gov-west-1"
	}
	if fn.Region == global {
		return []string{global}
	}
	return []string{fn.Region, global}
}

// sessionARN is the identity the function's calls carry:
// arn:<partition>:sts::<account>:assumed-role/<role name>/<function name>.
func sessionARN(fn inventory.Function) (string, error) {
	f, err := inventory.ParseFunctionARN(fn.ARN)
	if err != nil {
		return "", err
	}
	role := fn.RoleARN[strings.LastIndex(fn.RoleARN, "/")+1:]
	if role == "" || !strings.HasPrefix(fn.RoleARN, "arn:") {
		return "", fmt.Errorf("the function's role %q is not a role ARN", fn.RoleARN)
	}
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", f.Partition, f.Account, role, f.Name), nil
}

// lookup pages through one region's events of the function's name, within
// the call budget, keeping the function's own.
func lookup(ctx context.Context, fn inventory.Function, region, session string, opts Options, w *audit.UsageWindow, agg *aggregator) error {
	client := opts.Client(region)
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String(fn.Name)}},
		StartTime:        aws.Time(opts.Now.Add(-time.Duration(opts.Days) * 24 * time.Hour)),
		EndTime:          aws.Time(opts.Now),
		MaxResults:       aws.Int32(50),
	}
	for {
		if w.CallsMade >= opts.MaxCalls {
			w.CutShort = true
			return nil
		}
		if err := opts.Limiter.Wait(ctx, region); err != nil {
			return err
		}
		w.CallsMade++
		out, err := client.LookupEvents(ctx, in)
		if err != nil {
			return describe(err)
		}
		for _, e := range out.Events {
			if agg.add(e, session, region) {
				w.Events++
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// describe names a CloudTrail error by its code.
func describe(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("cloudtrail:LookupEvents: %s: %s", api.ErrorCode(), api.ErrorMessage())
	}
	return fmt.Errorf("cloudtrail:LookupEvents: %w", err)
}

// recorded is the part of a CloudTrail record read here.
type recorded struct {
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	AWSRegion    string `json:"awsRegion"`
	ErrorCode    string `json:"errorCode"`
	UserIdentity struct {
		ARN       string `json:"arn"`
		AccountID string `json:"accountId"`
	} `json:"userIdentity"`
	RequestParameters map[string]any `json:"requestParameters"`
	Resources         []struct {
		ARN string `json:"ARN"`
	} `json:"resources"`
}

// aggregator sums events to actions and resources.
type aggregator map[string]*audit.ObservedAction

// add takes one event if it is the function's own session; ok says so.
func (a aggregator) add(e cttypes.Event, session, region string) bool {
	var r recorded
	if json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &r) != nil || r.UserIdentity.ARN != session {
		return false
	}
	action := ActionOf(r.EventSource, r.EventName)
	parts := strings.SplitN(session, ":", 6)
	w := where{partition: parts[1], region: r.AWSRegion, account: parts[4]}
	if w.region == "" {
		w.region = region
	}
	var listed []string
	for _, res := range r.Resources {
		listed = append(listed, res.ARN)
	}
	for _, res := range e.Resources {
		listed = append(listed, aws.ToString(res.ResourceName))
	}
	obs, ok := a[action]
	if !ok {
		obs = &audit.ObservedAction{Action: action, Resources: []string{}}
		a[action] = obs
	}
	obs.Count++
	if t := aws.ToTime(e.EventTime); t.After(obs.LastSeen) {
		obs.LastSeen = t.UTC()
	}
	for _, res := range resourcesOf(action, w, r.RequestParameters, listed) {
		if !slices.Contains(obs.Resources, res) {
			obs.Resources = append(obs.Resources, res)
		}
	}
	return true
}

func (a aggregator) result() []audit.ObservedAction {
	out := make([]audit.ObservedAction, 0, len(a))
	for _, o := range a {
		sort.Strings(o.Resources)
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Action < out[j].Action })
	return out
}
