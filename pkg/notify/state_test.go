package notify

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/audit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

// TestStateStoreOnMoto: against S3's conditional writes (moto), the first
// write needs the object absent, later ones the version read; a second
// writer in between makes the write fail with ErrStateConflict, and an
// unusable object is reported, not trusted.
func TestStateStoreOnMoto(t *testing.T) {
	moto := testenv.SharedMoto(t)
	ctx := testenv.Context(t)
	client := s3.NewFromConfig(moto.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lra-state")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("lra-state"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	store := StateStore{Client: client, Bucket: "lra-state", Key: DefaultStateKey}
	first, err := store.Load(ctx)
	if err != nil || first.Report != nil || first.ETag != "" {
		t.Fatalf("empty bucket: %+v %v", first, err)
	}
	rep := func(at time.Time) *audit.Report {
		return &audit.Report{Tool: "lambda-role-audit", Complete: true, GeneratedAt: at, Errors: []audit.Error{}, Findings: []audit.Finding{}}
	}
	t0 := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	if err := store.Save(ctx, rep(t0), first); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, rep(t0.Add(time.Minute)), first); !errors.Is(err, ErrStateConflict) {
		t.Fatalf("a second first write: %v, want a conflict", err)
	}
	read, err := store.Load(ctx)
	if err != nil || read.Report == nil || !read.Report.GeneratedAt.Equal(t0) {
		t.Fatalf("read back: %+v %v", read, err)
	}
	// A second writer between this read and this write.
	if err := store.Save(ctx, rep(t0.Add(2*time.Minute)), read); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, rep(t0.Add(3*time.Minute)), read); !errors.Is(err, ErrStateConflict) {
		t.Fatalf("write over a version no longer current: %v, want a conflict", err)
	}
	if err := store.Save(ctx, &audit.Report{Tool: "lambda-role-audit"}, read); err == nil {
		t.Error("an incomplete report was saved as state")
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lra-state"), Key: aws.String(DefaultStateKey), Body: stringsReader(`{"digest": "x"}`)}); err != nil {
		t.Fatal(err)
	}
	bad, err := store.Load(ctx)
	if err != nil || bad.Report != nil || bad.Unreadable == "" || bad.ETag == "" {
		t.Fatalf("unusable state: %+v %v", bad, err)
	}
	versions, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("lra-state")})
	if err != nil || len(versions.Versions) != 3 {
		t.Errorf("the bucket keeps every state as a version (the history): %d versions, %v", len(versions.Versions), err)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
