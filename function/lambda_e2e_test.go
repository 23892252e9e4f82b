package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/handler"
)

// emulator is the real bootstrap running under aws-lambda-rie.
type emulator struct {
	url string
	cmd *exec.Cmd
	log *bytes.Buffer
}

// buildLambda builds the bootstrap (as build-AuditFunction does, for this
// machine's architecture) and the Runtime Interface Emulator, pinned in
// go.mod as a tool.
func buildLambda(t *testing.T) (bootstrap, rie string) {
	t.Helper()
	lambdaBuild.once.Do(func() {
		dir := filepath.Dir(binary) // removed by TestMain
		lambdaBuild.bootstrap, lambdaBuild.rie = filepath.Join(dir, "bootstrap"), filepath.Join(dir, "aws-lambda-rie")
		for _, args := range [][]string{
			{"build", "-tags", "lambda.norpc", "-o", lambdaBuild.bootstrap, "."},
			{"build", "-o", lambdaBuild.rie, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"},
		} {
			cmd := exec.Command("go", args...)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				lambdaBuild.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
				return
			}
		}
	})
	if lambdaBuild.err != nil {
		t.Fatal(lambdaBuild.err)
	}
	return lambdaBuild.bootstrap, lambdaBuild.rie
}

var lambdaBuild struct {
	once           sync.Once
	bootstrap, rie string
	err            error
}

func startEmulator(t *testing.T, bootstrap, rie string, env []string) *emulator {
	t.Helper()
	port, _ := testenv.FreePort()
	apiPort, _ := testenv.FreePort()
	e := &emulator{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), log: &bytes.Buffer{}}
	e.cmd = exec.Command(rie, "--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(port),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort), bootstrap)
	e.cmd.Env = append(os.Environ(), env...)
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	testenv.DieWithParent(e.cmd)
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		testenv.Kill(e.cmd)
		if t.Failed() {
			t.Logf("emulator log:\n%s", e.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
			resp.Body.Close()
			return e
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("emulator did not start: %s", e.log.String())
	return nil
}

// invoke sends an event as Lambda does and returns the function's response.
func (e *emulator) invoke(t *testing.T, event string) (handler.Summary, map[string]any) {
	t.Helper()
	resp, err := http.Post(e.url, "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("response is not JSON: %s", body)
	}
	var sum handler.Summary
	json.Unmarshal(body, &sum)
	return sum, raw
}

type alertQueue struct {
	client *sqs.Client
	url    string
}

// delivered is one message as it reaches an SQS subscriber of the topic.
type delivered struct {
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

func (q alertQueue) drain(t *testing.T) []delivered {
	t.Helper()
	var out []delivered
	for {
		resp, err := q.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Messages) == 0 {
			return out
		}
		for _, m := range resp.Messages {
			var d delivered
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &d); err != nil {
				t.Fatalf("SQS body is not an SNS notification: %s", aws.ToString(m.Body))
			}
			out = append(out, d)
			q.client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &q.url, ReceiptHandle: m.ReceiptHandle})
		}
	}
}

// stateBucket is the test account's state bucket.
const stateBucket = "lra-state"

// alertSetup creates the topic, an SQS subscriber and the state bucket,
// as the template does.
func alertSetup(t *testing.T, moto *testenv.Moto) (topicARN string, q alertQueue) {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config()
	snsc, sqsc, s3c := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg), s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("lambda-role-audit-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("alerts")})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := "arn:aws:sqs:us-east-1:" + moto.Account() + ":alerts"
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(stateBucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(stateBucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(topic.TopicArn), alertQueue{client: sqsc, url: aws.ToString(queue.QueueUrl)}
}

func TestScheduledLambdaUnderRuntimeEmulator(t *testing.T) {
	moto := testenv.SharedMoto(t)
	want := seedMixedAccount(t, moto)
	topicARN, queue := alertSetup(t, moto)
	bootstrap, rie := buildLambda(t)
	em := startEmulator(t, bootstrap, rie, append(moto.Env(),
		"ALERT_TOPIC_ARN="+topicARN, "AUDIT_REGIONS=us-east-1,eu-west-1", "NOTIFY_ON=findings",
		"MIN_SEVERITY=medium", "STATE_BUCKET="+stateBucket, "AWS_LAMBDA_FUNCTION_TIMEOUT=120",
	))

	// The schedule's event: one alert with the findings at medium and above.
	scheduled, _ := os.ReadFile("../deploy/events/scheduled.json")
	sum, raw := em.invoke(t, string(scheduled))
	if !sum.Published || sum.MessageID == "" || !sum.Complete || sum.Findings.Total != len(want) {
		t.Fatalf("scheduled run: %+v", raw)
	}
	msgs := queue.drain(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages on the topic, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "lambda-role-audit 123456789012: 1 critical, 3 high, 2 medium" {
		t.Errorf("subject = %q", m.Subject)
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(m.Message), &rep); err != nil {
		t.Fatalf("the sqs body is not the JSON report: %v\n%s", err, m.Message)
	}
	if len(rep.Findings) != len(want) || rep.Findings[0].Severity != audit.Critical || !rep.Complete {
		t.Errorf("report on the topic: %d findings, complete %v", len(rep.Findings), rep.Complete)
	}
	if a := m.MessageAttributes["severity"]; a.Value != "critical" {
		t.Errorf("severity attribute = %+v", m.MessageAttributes)
	}
	if a := m.MessageAttributes["findingCount"]; a.Value != "6" || a.Type != "Number" {
		t.Errorf("findingCount attribute = %+v", m.MessageAttributes)
	}

	// A manual dry run returns the report and publishes nothing.
	dry, _ := os.ReadFile("../deploy/events/manual-dry-run.json")
	sum, raw = em.invoke(t, string(dry))
	if sum.Published || sum.Report == nil || len(sum.Report.Findings) != len(want) || !strings.Contains(sum.Reason, "dry run") {
		t.Fatalf("dry run: %+v", raw)
	}
	if n := len(queue.drain(t)); n != 0 {
		t.Fatalf("dry run published %d messages", n)
	}

	// An unknown field is rejected, naming it and the accepted fields.
	_, raw = em.invoke(t, `{"dryrun": true}`)
	if msg, _ := raw["errorMessage"].(string); !strings.Contains(msg, `unknown field(s) "dryrun"`) || !strings.Contains(msg, "accepted fields: dryRun") {
		t.Fatalf("unknown field: %+v", raw)
	}

	// Change mode: the scheduled run above recorded the state, so nothing
	// has changed since; once a finding is fixed, the alert says so.
	sum, raw = em.invoke(t, `{"notify": "change"}`)
	if sum.Published || !strings.Contains(sum.Reason, "nothing new, worse or resolved") || sum.Changes != "no change" {
		t.Fatalf("change mode, nothing changed: %+v", raw)
	}
	if n := len(queue.drain(t)); n != 0 {
		t.Fatalf("change mode published %d messages with nothing changed", n)
	}
	iamc := iam.NewFromConfig(moto.Config())
	if _, err := iamc.DetachRolePolicy(context.Background(), &iam.DetachRolePolicyInput{RoleName: aws.String("single-admin"), PolicyArn: aws.String(awsPolicy + "AdministratorAccess")}); err != nil {
		t.Fatal(err)
	}
	sum, raw = em.invoke(t, `{"notify": "change"}`)
	if !sum.Published || sum.Alerting != 5 || sum.Changes != "1 resolved" {
		t.Fatalf("change mode after a fix: %+v", raw)
	}
	msgs = queue.drain(t)
	if len(msgs) != 1 || !strings.HasSuffix(msgs[0].Subject, ": 1 resolved") {
		t.Fatalf("after the fix: %+v", msgs)
	}

	// The full report is always logged as structured JSON.
	if !strings.Contains(em.log.String(), `"msg":"audit report"`) || !strings.Contains(em.log.String(), `"msg":"audit findings"`) {
		t.Errorf("the report was not logged:\n%s", em.log.String())
	}
}

func TestLambdaAllClearAndBadConfiguration(t *testing.T) {
	moto := testenv.SharedMoto(t)
	moto.Seed(t, testenv.Account{
		Roles:     []testenv.Role{{Name: "own", Attached: []string{awsPolicy + "service-role/AWSLambdaBasicExecutionRole"}}},
		Functions: []testenv.Function{{Region: "us-east-1", Name: "solo", Role: "own"}},
	})
	topicARN, queue := alertSetup(t, moto)
	bootstrap, rie := buildLambda(t)
	em := startEmulator(t, bootstrap, rie, append(moto.Env(), "ALERT_TOPIC_ARN="+topicARN, "AUDIT_REGIONS=us-east-1"))

	sum, raw := em.invoke(t, `{}`)
	if sum.Published || !strings.Contains(sum.Reason, "no unsuppressed findings") {
		t.Fatalf("clean account, findings mode: %+v", raw)
	}
	always, _ := os.ReadFile("../deploy/events/manual-notify-always.json")
	sum, raw = em.invoke(t, string(always))
	if !sum.Published {
		t.Fatalf("notify always: %+v", raw)
	}
	msgs := queue.drain(t)
	if len(msgs) != 1 || msgs[0].Subject != "lambda-role-audit 123456789012: all clear" {
		t.Fatalf("all-clear: %+v", msgs)
	}

	bad := startEmulator(t, bootstrap, rie, append(moto.Env(), "ALERT_TOPIC_ARN="+topicARN, "MIN_SEVERITY=severe"))
	_, raw = bad.invoke(t, `{}`)
	if msg, _ := raw["errorMessage"].(string); !strings.Contains(msg, `MIN_SEVERITY: unknown severity "severe"`) {
		t.Fatalf("bad configuration: %+v", raw)
	}
}
