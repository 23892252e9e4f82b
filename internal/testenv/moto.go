// Package testenv starts the real components that integration tests run
// against: a moto server on a free loopback port, and AWS SDK clients bound
// to it. Tests skip with a clear message when moto is absent on a
// developer's machine, and fail when it is absent in CI (CI=true): an
// integration test is never skipped silently there.
package testenv

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Moto is a running moto server.
type Moto struct {
	URL string
	cmd *exec.Cmd
	// as, when set, are another account's credentials (see As).
	as      *aws.Credentials
	account string
}

// As is the same server seen from another account: moto takes the
// credentials sts:AssumeRole returns for a role in that account as the
// account's own. Env, Config and Seed of the result act in it.
func (m *Moto) As(t testing.TB, account string) *Moto {
	t.Helper()
	out, err := sts.NewFromConfig(m.Config()).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/test-admin"), RoleSessionName: aws.String("test"),
	})
	if err != nil {
		t.Fatalf("assume a role in %s: %v", account, err)
	}
	c := aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	return &Moto{URL: m.URL, cmd: m.cmd, as: &c, account: account}
}

// Account is the account this view acts in.
func (m *Moto) Account() string {
	if m.account == "" {
		return AccountID
	}
	return m.account
}

// Require fails in CI and skips elsewhere when a tool is not installed.
func Require(t testing.TB, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed, and CI must run this test", tool)
		}
		t.Skipf("%s is not installed; skipping (CI fails instead)", tool)
	}
	return path
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartMoto starts moto_server with AWS-managed policies loaded and waits
// until it answers.
func StartMoto() (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server not found: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	m := &Moto{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(m.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return m, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.Stop()
	return nil, fmt.Errorf("moto_server did not answer on %s within 60s: %s", m.URL, logs.String())
}

// Stop ends the server.
func (m *Moto) Stop() { Kill(m.cmd) }

// Reset wipes every resource so the next test starts from an empty account.
func (m *Moto) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(m.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
}

// Env returns the environment a child process needs to talk to this moto.
func (m *Moto) Env() []string {
	key, secret, token := "testing", "testing", ""
	if m.as != nil {
		key, secret, token = m.as.AccessKeyID, m.as.SecretAccessKey, m.as.SessionToken
	}
	return []string{
		"AWS_ENDPOINT_URL=" + m.URL,
		"AWS_ACCESS_KEY_ID=" + key,
		"AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_SESSION_TOKEN=" + token,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// Config returns an SDK configuration bound to this moto.
func (m *Moto) Config() aws.Config {
	creds := credentials.NewStaticCredentialsProvider("testing", "testing", "")
	if m.as != nil {
		creds = credentials.NewStaticCredentialsProvider(m.as.AccessKeyID, m.as.SecretAccessKey, m.as.SessionToken)
	}
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  creds,
		BaseEndpoint: aws.String(m.URL),
	}
}

var (
	shared     *Moto
	sharedErr  error
	sharedOnce sync.Once
)

// SharedMoto returns one moto server per test binary, reset for the caller.
// The server lives until the process exits (see StopShared).
func SharedMoto(t testing.TB) *Moto {
	t.Helper()
	Require(t, "moto_server")
	sharedOnce.Do(func() { shared, sharedErr = StartMoto() })
	if sharedErr != nil {
		t.Fatalf("moto: %v", sharedErr)
	}
	shared.Reset(t)
	return shared
}

// StopShared stops the shared server; call it from TestMain after m.Run.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// FunctionZip is a minimal deployment package for CreateFunction.
func FunctionZip() []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("index.py")
	_, _ = w.Write([]byte("def handler(event, context):\n    return event\n"))
	_ = zw.Close()
	return buf.Bytes()
}

// Context returns a context that ends with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
