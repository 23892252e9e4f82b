package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"

	"lambda-role-audit/pkg/inventory"
)

var here = where{partition: "aws", region: "eu-west-1", account: "123456789012"}

func TestActionsAndResources(t *testing.T) {
	tests := []struct {
		source, name string
		params       map[string]any
		listed       []string
		action       string
		resources    []string
	}{
		{"secretsmanager.amazonaws.com", "GetSecretValue", map[string]any{"secretId": "prod/db"}, nil,
			"secretsmanager:GetSecretValue", []string{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-??????"}},
		{"secretsmanager.amazonaws.com", "GetSecretValue", map[string]any{"secretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"}, nil,
			"secretsmanager:GetSecretValue", []string{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"}},
		{"ssm.amazonaws.com", "GetParameter", map[string]any{"name": "/app/config", "withDecryption": true}, nil,
			"ssm:GetParameter", []string{"arn:aws:ssm:eu-west-1:123456789012:parameter/app/config"}},
		{"ssm.amazonaws.com", "GetParameters", map[string]any{"names": []any{"a", "/b"}}, nil,
			"ssm:GetParameters", []string{"arn:aws:ssm:eu-west-1:123456789012:parameter/a", "arn:aws:ssm:eu-west-1:123456789012:parameter/b"}},
		{"ssm.amazonaws.com", "GetParametersByPath", map[string]any{"path": "/app/"}, nil,
			"ssm:GetParametersByPath", []string{"arn:aws:ssm:eu-west-1:123456789012:parameter/app/*"}},
		{"kms.amazonaws.com", "Decrypt", map[string]any{"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, []string{"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
			"kms:Decrypt", []string{"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{"kms.amazonaws.com", "GenerateDataKey", map[string]any{"keyId": "alias/app"}, nil,
			"kms:GenerateDataKey", []string{"arn:aws:kms:eu-west-1:123456789012:alias/app"}},
		{"dynamodb.amazonaws.com", "DescribeTable", map[string]any{"tableName": "orders"}, nil,
			"dynamodb:DescribeTable", []string{"arn:aws:dynamodb:eu-west-1:123456789012:table/orders"}},
		{"sqs.amazonaws.com", "GetQueueAttributes", map[string]any{"queueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"}, nil,
			"sqs:GetQueueAttributes", []string{"arn:aws:sqs:eu-west-1:123456789012:jobs"}},
		{"sns.amazonaws.com", "GetTopicAttributes", map[string]any{"topicArn": "arn:aws:sns:eu-west-1:123456789012:t"}, nil,
			"sns:GetTopicAttributes", []string{"arn:aws:sns:eu-west-1:123456789012:t"}},
		{"s3.amazonaws.com", "GetBucketLocation", map[string]any{"bucketName": "cc-exports"}, nil,
			"s3:GetBucketLocation", []string{"arn:aws:s3:::cc-exports"}},
		{"lambda.amazonaws.com", "GetFunction20150331v2", map[string]any{"functionName": "worker"}, nil,
			"lambda:GetFunction", []string{"arn:aws:lambda:eu-west-1:123456789012:function:worker"}},
		{"sts.amazonaws.com", "GetCallerIdentity", nil, nil, "sts:GetCallerIdentity", []string{"*"}},
		{"monitoring.amazonaws.com", "PutMetricData", nil, nil, "cloudwatch:PutMetricData", []string{"*"}},
		{"events.amazonaws.com", "PutRule", map[string]any{"name": "x"}, nil, "events:PutRule", nil},
	}
	for _, tt := range tests {
		action := ActionOf(tt.source, tt.name)
		if action != tt.action {
			t.Errorf("%s %s: action %s, want %s", tt.source, tt.name, action, tt.action)
			continue
		}
		if got := resourcesOf(action, here, tt.params, tt.listed); !reflect.DeepEqual(got, tt.resources) {
			t.Errorf("%s: resources %v, want %v", action, got, tt.resources)
		}
	}
}

const (
	fnARN   = "arn:aws:lambda:eu-west-1:123456789012:function:orders"
	roleARN = "arn:aws:iam::123456789012:role/service-role/shared"
	mine    = "arn:aws:sts::123456789012:assumed-role/shared/orders"
)

func event(identity, source, name string, at time.Time, params map[string]any) cttypes.Event {
	b, _ := json.Marshal(map[string]any{"eventVersion": "1.08", "eventSource": source, "eventName": name, "awsRegion": "eu-west-1",
		"userIdentity": map[string]any{"type": "AssumedRole", "arn": identity}, "requestParameters": params, "eventTime": at.Format(time.RFC3339)})
	return cttypes.Event{EventName: aws.String(name), EventSource: aws.String(source), EventTime: aws.Time(at), CloudTrailEvent: aws.String(string(b))}
}

// TestSessionMatch: only the function's own session on its own role
// counts: not another function of the role, not another role's session of
// the same name, not another account or partition, not a user.
func TestSessionMatch(t *testing.T) {
	fn := inventory.Function{ARN: fnARN, Name: "orders", Region: "eu-west-1", RoleARN: roleARN}
	at := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	get := map[string]any{"secretId": "prod/db"}
	events := []cttypes.Event{
		event(mine, "secretsmanager.amazonaws.com", "GetSecretValue", at, get),
		event("arn:aws:sts::123456789012:assumed-role/shared/billing", "ssm.amazonaws.com", "GetParameter", at, map[string]any{"name": "billing"}),
		event("arn:aws:sts::123456789012:assumed-role/other-role/orders", "kms.amazonaws.com", "Decrypt", at, nil),
		event("arn:aws:sts::210987654321:assumed-role/shared/orders", "dynamodb.amazonaws.com", "DescribeTable", at, map[string]any{"tableName": "x"}),
		event("arn:aws-cn:sts::123456789012:assumed-role/shared/orders", "dynamodb.amazonaws.com", "DescribeTable", at, map[string]any{"tableName": "y"}),
		event("arn:aws:iam::123456789012:user/orders", "s3.amazonaws.com", "ListAllMyBuckets", at, nil),
		event(mine, "secretsmanager.amazonaws.com", "GetSecretValue", at.Add(time.Hour), get),
	}
	ev := Observe(context.Background(), fn, Options{Now: at.Add(48 * time.Hour), Limiter: NewLimiter(0), Client: pages(events, 100, nil)})
	if len(ev.Observed) != 1 || ev.Observed[0].Action != "secretsmanager:GetSecretValue" || ev.Observed[0].Count != 2 || !ev.Observed[0].LastSeen.Equal(at.Add(time.Hour)) {
		t.Fatalf("observed %+v", ev.Observed)
	}
	if ev.Window.Events != 2 || !reflect.DeepEqual(ev.Window.Regions, []string{"eu-west-1", "us-east-1"}) {
		t.Errorf("window %+v", ev.Window)
	}
}

// pages serves events in pages of size (the global region's history is
// empty), failing with err when set.
func pages(events []cttypes.Event, size int, err error) func(string) CloudTrailAPI {
	return func(region string) CloudTrailAPI {
		if region != "eu-west-1" {
			return fakeTrail{}
		}
		return fakeTrail{events: events, size: size, err: err}
	}
}

type fakeTrail struct {
	events []cttypes.Event
	size   int
	err    error
}

func (f fakeTrail) LookupEvents(_ context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	if aws.ToString(in.LookupAttributes[0].AttributeValue) != "orders" || in.StartTime == nil || in.EndTime == nil {
		return nil, fmt.Errorf("unexpected lookup %+v", in)
	}
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	end := min(start+max(f.size, 1), len(f.events))
	out := &cloudtrail.LookupEventsOutput{Events: f.events[start:end]}
	if end < len(f.events) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

// TestBudgetAndErrors: pages are followed until the budget runs out (and
// the window says it was cut short); a denied lookup is stated, not fatal.
func TestBudgetAndErrors(t *testing.T) {
	fn := inventory.Function{ARN: fnARN, Name: "orders", Region: "eu-west-1", RoleARN: roleARN}
	at := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var events []cttypes.Event
	for i := range 10 {
		events = append(events, event(mine, "ssm.amazonaws.com", "GetParameter", at.Add(time.Duration(i)*time.Minute), map[string]any{"name": fmt.Sprintf("p%d", i)}))
	}
	all := Observe(context.Background(), fn, Options{Now: at.Add(time.Hour), Limiter: NewLimiter(0), Client: pages(events, 3, nil)})
	if all.Window.CallsMade != 5 || all.Window.CutShort || all.Observed[0].Count != 10 || len(all.Observed[0].Resources) != 10 {
		t.Errorf("all pages: window %+v observed %+v", all.Window, all.Observed)
	}
	cut := Observe(context.Background(), fn, Options{Now: at.Add(time.Hour), MaxCalls: 2, Limiter: NewLimiter(0), Client: pages(events, 3, nil)})
	if cut.Window.CallsMade != 2 || !cut.Window.CutShort || cut.Observed[0].Count != 6 {
		t.Errorf("budget of 2: window %+v observed %+v", cut.Window, cut.Observed)
	}
	denied := Observe(context.Background(), fn, Options{Now: at, Limiter: NewLimiter(0),
		Client: pages(nil, 1, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: cloudtrail:LookupEvents"})})
	if len(denied.Window.Errors) != 1 || !strings.Contains(denied.Window.Errors[0], "eu-west-1: cloudtrail:LookupEvents: AccessDeniedException") {
		t.Errorf("denied: %+v", denied.Window)
	}
	if d := Observe(context.Background(), fn, Options{Days: 400, Now: at, Limiter: NewLimiter(0), Client: pages(nil, 1, nil)}); d.Window.Days != MaxDays {
		t.Errorf("days capped at %d: %d", MaxDays, d.Window.Days)
	}
}
