package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/notify"
)

const ownRole = "arn:aws:iam::123456789012:role/lra-AuditFunctionRole-1AB2"

// cloudTrail is an EventBridge CloudTrail event as the rule delivers it.
func cloudTrail(source, name, principal, issuer, errorCode string, params map[string]any) string {
	detail := map[string]any{
		"eventVersion": "1.09", "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
		"eventTime": "2026-11-28T06:00:00Z", "sourceIPAddress": "203.0.113.7",
		"userIdentity": map[string]any{"type": "AssumedRole", "arn": principal,
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "arn": issuer}}},
		"requestParameters": params, "responseElements": nil,
	}
	if errorCode != "" {
		detail["errorCode"], detail["errorMessage"] = errorCode, "denied"
	}
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "e1", "detail-type": "AWS API Call via CloudTrail",
		"source": "aws." + strings.TrimSuffix(source, ".amazonaws.com"), "account": "123456789012", "time": "2026-11-28T06:00:01Z",
		"region": "us-east-1", "resources": []string{}, "detail": detail})
	return string(b)
}

func batchOf(bodies ...string) json.RawMessage {
	var recs []map[string]any
	for i, b := range bodies {
		recs = append(recs, map[string]any{"messageId": fmt.Sprintf("m%d", i+1), "receiptHandle": "r", "body": b, "eventSource": "aws:sqs",
			"eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lra-changes", "awsRegion": "us-east-1", "attributes": map[string]string{}})
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	return b
}

const alice = "arn:aws:sts::123456789012:assumed-role/Admin/alice"

var attachAdmin = cloudTrail("iam.amazonaws.com", "AttachRolePolicy", alice, "arn:aws:iam::123456789012:role/Admin", "",
	map[string]any{"roleName": "shared", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})

// TestReadChange: which events ask for an audit.
func TestReadChange(t *testing.T) {
	tests := []struct {
		name, body string
		trigger    bool
		malformed  bool
	}{
		{"attach admin", attachAdmin, true, false},
		{"lambda create", cloudTrail("lambda.amazonaws.com", "CreateFunction20150331", alice, "", "", map[string]any{"functionName": "f"}), true, false},
		{"suppression tag", cloudTrail("iam.amazonaws.com", "UntagRole", alice, "", "", map[string]any{"roleName": "r"}), true, false},
		{"failed call", cloudTrail("iam.amazonaws.com", "AttachRolePolicy", alice, "", "AccessDenied", map[string]any{"roleName": "r"}), false, false},
		{"the audit's own role", cloudTrail("iam.amazonaws.com", "PutRolePolicy", "arn:aws:sts::123456789012:assumed-role/lra-AuditFunctionRole-1AB2/lra-audit", ownRole, "", nil), false, false},
		{"own session without issuer", cloudTrail("iam.amazonaws.com", "PutRolePolicy", "arn:aws:sts::123456789012:assumed-role/lra-AuditFunctionRole-1AB2/lra-audit", "", "", nil), false, false},
		{"unwatched call", cloudTrail("iam.amazonaws.com", "CreateUser", alice, "", "", nil), false, false},
		{"unversioned lambda name", cloudTrail("lambda.amazonaws.com", "CreateFunction", alice, "", "", nil), false, false},
		{"other source", cloudTrail("s3.amazonaws.com", "AttachRolePolicy", alice, "", "", nil), false, false},
		{"scheduled event", `{"detail-type": "Scheduled Event", "source": "aws.scheduler"}`, false, false},
		{"not JSON", `AttachRolePolicy`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trig, ok, err := readChange(tt.body, ownRole)
			if ok != tt.trigger || (err != nil) != tt.malformed {
				t.Fatalf("trigger %v err %v, want trigger %v malformed %v", ok, err, tt.trigger, tt.malformed)
			}
			if ok && (trig.Principal != alice || trig.Time.IsZero() || trig.Resource == "") {
				t.Errorf("trigger %+v", trig)
			}
		})
	}
}

// memS3 is an S3 bucket with conditional writes, as S3 does them; before
// runs once, before the first write, to play a second writer.
type memS3 struct {
	mu     sync.Mutex
	body   []byte
	etag   string
	n      int
	puts   int
	before func()
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.body == nil {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(m.body)), ETag: aws.String(m.etag)}, nil
}

func (m *memS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if f := m.before; f != nil {
		m.before = nil
		f()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if (in.IfNoneMatch != nil && m.body != nil) || (in.IfMatch != nil && aws.ToString(in.IfMatch) != m.etag) {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	}
	m.body, _ = io.ReadAll(in.Body)
	m.n++
	m.puts++
	m.etag = fmt.Sprintf(`"v%d"`, m.n)
	return &s3.PutObjectOutput{ETag: aws.String(m.etag)}, nil
}

type snsRecorder struct{ subjects []string }

func (s *snsRecorder) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	s.subjects = append(s.subjects, aws.ToString(in.Subject))
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprint(len(s.subjects)))}, nil
}

func sampleHandler(t *testing.T, store *memS3, pub *snsRecorder, now time.Time) *Handler {
	t.Helper()
	return &Handler{
		Config: Config{TopicARN: "arn:aws:sns:us-east-1:123456789012:alerts", NotifyOn: notify.ModeFindings, MinSeverity: audit.Medium,
			StateBucket: "lra-state", StateKey: notify.DefaultStateKey, AuditRoleARN: ownRole},
		Source: inventory.Snapshot{Dir: "../../testdata/sample-account"}, SNS: pub, S3: store,
		Now: func() time.Time { return now },
	}
}

// TestStateConflictRetry: a second writer saves its report between this
// run's read and write. The write is refused, the run reads the other
// report, compares again, alerts on what is still new to it, and saves.
func TestStateConflictRetry(t *testing.T) {
	store, pub := &memS3{}, &snsRecorder{}
	now := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	h := sampleHandler(t, store, pub, now)
	// The other run saw the account before the last finding appeared.
	other, _ := sampleHandler(t, &memS3{}, &snsRecorder{}, now.Add(-time.Minute)).audit(context.Background(), nil)
	gone := other.Findings[0].ID
	other.Findings = other.Findings[1:]
	store.before = func() {
		if err := (notify.StateStore{Client: store, Bucket: "lra-state", Key: notify.DefaultStateKey}).Save(context.Background(), other, notify.Stored{}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := h.Handle(context.Background(), json.RawMessage(`{"notify": "change"}`))
	if err != nil {
		t.Fatal(err)
	}
	if store.puts != 2 || len(pub.subjects) != 2 {
		t.Fatalf("%d writes, %d alerts; want the other run's write and ours, and two alerts (all new, then the one the other run lacked)", store.puts, len(pub.subjects))
	}
	if !strings.HasSuffix(pub.subjects[1], ": 1 new critical") || sum.Changes != "1 new critical" {
		t.Errorf("second alert %q, changes %q", pub.subjects[1], sum.Changes)
	}
	var saved audit.Report
	if err := json.Unmarshal(store.body, &saved); err != nil || !saved.GeneratedAt.Equal(now) {
		t.Fatalf("saved state is not this run's report: %v %v", saved.GeneratedAt, err)
	}
	for _, f := range saved.Findings {
		want := now.Add(-time.Minute)
		if f.ID == gone {
			want = now
		}
		if !f.FirstSeen.Equal(want) {
			t.Errorf("%s first seen %v, want %v", f.ID, f.FirstSeen, want)
		}
	}

	// A later run already recorded: this run keeps it.
	store.before = nil
	late := sampleHandler(t, store, pub, now.Add(-time.Hour))
	store.before = func() { store.etag = `"moved"` }
	if _, err := late.Handle(context.Background(), json.RawMessage(`{"notify": "change"}`)); err != nil {
		t.Fatal(err)
	}
	var kept audit.Report
	if json.Unmarshal(store.body, &kept); !kept.GeneratedAt.Equal(now) {
		t.Errorf("an older run overwrote a later state: %v", kept.GeneratedAt)
	}
}

// TestBatchConsumer: one audit per batch in change mode; malformed
// messages are returned for retry; when the audit fails every message is;
// a batch with nothing relevant audits nothing.
func TestBatchConsumer(t *testing.T) {
	now := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	store, pub := &memS3{}, &snsRecorder{}
	h := sampleHandler(t, store, pub, now)
	ignoredOnly := batchOf(cloudTrail("iam.amazonaws.com", "CreateUser", alice, "", "", nil))
	resp, err := h.HandleBatch(context.Background(), ignoredOnly)
	if err != nil || len(resp.BatchItemFailures) != 0 || store.puts != 0 || len(pub.subjects) != 0 {
		t.Fatalf("nothing relevant: %+v %v, %d writes, %d alerts", resp, err, store.puts, len(pub.subjects))
	}

	resp, err = h.HandleBatch(context.Background(), batchOf(attachAdmin, "not an event", attachAdmin))
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m2" {
		t.Fatalf("malformed message: %+v %v", resp, err)
	}
	if store.puts != 1 || len(pub.subjects) != 1 || !strings.Contains(pub.subjects[0], "new critical") {
		t.Fatalf("one audit, one change alert: %d writes, %v", store.puts, pub.subjects)
	}
	// The same account again: nothing new, no alert (NOTIFY_ON=findings
	// notwithstanding), the state rewritten.
	if resp, err = h.HandleBatch(context.Background(), batchOf(attachAdmin)); err != nil || len(resp.BatchItemFailures) != 0 || len(pub.subjects) != 1 || store.puts != 2 {
		t.Fatalf("unchanged account: %+v %v %v", resp, err, pub.subjects)
	}

	broken := sampleHandler(t, &memS3{}, pub, now)
	broken.S3 = failingS3{}
	resp, err = broken.HandleBatch(context.Background(), batchOf(attachAdmin, attachAdmin))
	if err != nil || len(resp.BatchItemFailures) != 2 {
		t.Fatalf("failed audit: every message must be retried: %+v %v", resp, err)
	}
	if _, err := h.HandleBatch(context.Background(), json.RawMessage(`{"Records": [{"body": "x"}]}`)); err == nil {
		t.Error("a record without messageId is an error")
	}
}

type failingS3 struct{}

func (failingS3) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"}
}

func (failingS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"}
}

// FuzzReadBatch: whatever a queue delivers, reading it never panics; a
// message is a trigger, malformed or ignored, never two of these.
func FuzzReadBatch(f *testing.F) {
	f.Add([]byte(batchOf(attachAdmin, "x")))
	f.Add([]byte(`{"Records":[{"messageId":"m","body":"{\"detail-type\":\"AWS API Call via CloudTrail\",\"detail\":null}"}]}`))
	f.Add([]byte(`{"Records":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		triggers, malformed, ignored, err := readBatch(data, ownRole)
		if err != nil {
			return
		}
		var batch sqsBatch
		if json.Unmarshal(data, &batch) != nil {
			t.Fatalf("accepted a batch that is not JSON: %q", data)
		}
		if len(triggers)+len(malformed)+ignored != len(batch.Records) {
			t.Fatalf("%d records, %d+%d+%d sorted", len(batch.Records), len(triggers), len(malformed), ignored)
		}
	})
}
