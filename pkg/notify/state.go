package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"lambda-role-audit/pkg/audit"
)

// S3API is the part of the S3 client the state store uses.
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// DefaultStateKey is where the last complete report is kept in the state
// bucket. The bucket is versioned: its versions are the audit's history.
const DefaultStateKey = "state/last-complete-report.json"

// ErrStateConflict means another run wrote the state between this run's
// read and write: read again and compare again.
var ErrStateConflict = errors.New("the state was written by another run since it was read")

// StateStore keeps the last complete report in S3, written only if it is
// still the version that was read (a conditional put), so that concurrent
// runs never lose an update.
type StateStore struct {
	Client      S3API
	Bucket, Key string
}

// Stored is the state as read: the last complete report (nil when there
// is none yet) and the object's ETag that a write must match.
type Stored struct {
	Report *audit.Report
	ETag   string
	// Unreadable says why an object that exists could not be used; the
	// run then compares with nothing (every finding is new) and overwrites
	// it.
	Unreadable string
}

// Load reads the state.
func (s StateStore) Load(ctx context.Context) (Stored, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Key)})
	if err != nil {
		var missing *s3types.NoSuchKey
		if errors.As(err, &missing) {
			return Stored{}, nil
		}
		return Stored{}, fmt.Errorf("read state s3://%s/%s: %w", s.Bucket, s.Key, err)
	}
	defer out.Body.Close()
	st := Stored{ETag: aws.ToString(out.ETag)}
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return Stored{}, fmt.Errorf("read state s3://%s/%s: %w", s.Bucket, s.Key, err)
	}
	var r audit.Report
	if err := json.Unmarshal(b, &r); err != nil || r.Tool != "lambda-role-audit" || !r.Complete {
		if err == nil {
			err = errors.New("not a complete lambda-role-audit report")
		}
		st.Unreadable = fmt.Sprintf("state s3://%s/%s is unusable (%v): every finding is compared with nothing, as new", s.Bucket, s.Key, err)
		return st, nil
	}
	st.Report = &r
	return st, nil
}

// Save writes r (a complete report) over prev: only if the object is still
// prev's version, or still absent when prev was. ErrStateConflict (wrapped)
// when it is not.
func (s StateStore) Save(ctx context.Context, r *audit.Report, prev Stored) error {
	if !r.Complete {
		return errors.New("an incomplete report is never saved as state")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(s.Key), Body: bytes.NewReader(b),
		ContentType: aws.String("application/json"),
	}
	if prev.ETag == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(prev.ETag)
	}
	if _, err := s.Client.PutObject(ctx, in); err != nil {
		if conflict(err) {
			return fmt.Errorf("write state s3://%s/%s: %w", s.Bucket, s.Key, ErrStateConflict)
		}
		return fmt.Errorf("write state s3://%s/%s: %w", s.Bucket, s.Key, err)
	}
	return nil
}

// conflict: S3 answers a failed condition with 412 Precondition Failed, or
// 409 ConditionalRequestConflict when two conditional writes race.
func conflict(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "PreconditionFailed" || api.ErrorCode() == "ConditionalRequestConflict") {
		return true
	}
	var resp *smithyhttp.ResponseError
	return errors.As(err, &resp) && (resp.HTTPStatusCode() == http.StatusPreconditionFailed || resp.HTTPStatusCode() == http.StatusConflict)
}
