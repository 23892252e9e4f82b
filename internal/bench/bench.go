// Package bench measures the audit at scale against the AWS-compatible test
// server (internal/awsfake): the real binary as a child process (so its peak RSS
// is its own), the server in this process, with per-call latency and
// AWS-like token-bucket throttling. It also runs the rule's documented
// procedure (one GetFunction per function, per-role IAM calls) on the same
// server for comparison, and computes the critical-path lower bound.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"lambda-role-audit/internal/awsfake"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/awsenv"
)

// Settings describe one benchmark account and its service behaviour.
type Settings struct {
	Functions, Regions, Roles, Policies int
	Latency                             time.Duration
	Lambda, IAM                         awsfake.Limits
}

// Result is one measured run.
type Result struct {
	Settings
	Strategy   string
	Wall       time.Duration
	LowerBound time.Duration
	Calls      map[string]int
	Total      int
	Throttled  int
	PeakRSSMB  float64 // 0 when not measured
	Findings   []string
	Complete   bool
	Note       string
}

// Ratio is wall time over the lower bound.
func (r Result) Ratio() float64 { return r.Wall.Seconds() / r.LowerBound.Seconds() }

const (
	lambdaPage = 50   // ListFunctions page size
	esmPage    = 100  // ListEventSourceMappings page size
	iamPage    = 1000 // GetAccountAuthorizationDetails MaxItems
)

// LowerBound is the least time any collector needs on this account: the
// longest chain of calls that cannot overlap, each taking the latency, or
// the time the throttle needs to admit the calls that must be made,
// whichever is longer. Lambda is per region: DescribeRegions, then that
// region's ListFunctions pages one after another (mappings can be listed
// beside them). IAM is account-wide and needs no region list: the bulk
// pages one after another, then GetPolicy and GetPolicyVersion for the
// AWS-managed policies in use (which the bulk read does not carry).
func LowerBound(a *awsfake.Account, s Settings) time.Duration {
	lat := s.Latency.Seconds()
	lambdaWorst := 0.0
	for _, region := range a.Regions {
		fns := a.Functions[region]
		pages := max(1, ceilDiv(len(fns), lambdaPage))
		mappings := 0
		for _, f := range fns {
			mappings += len(f.Mappings)
		}
		calls := pages + max(1, ceilDiv(mappings, esmPage))
		chain := float64(pages) * lat
		lambdaWorst = math.Max(lambdaWorst, math.Max(chain, throttleFloor(calls, s.Lambda)+lat))
	}
	lambdaPath := lat + lambdaWorst // DescribeRegions first

	local := 0
	for _, p := range a.Policies {
		if !strings.Contains(p.ARN, ":iam::aws:") {
			local++
		}
	}
	gaadPages := max(1, ceilDiv(len(a.Roles)+local, iamPage))
	awsManaged := map[string]bool{}
	for _, r := range a.Roles {
		for _, p := range r.Attached {
			if strings.Contains(p, ":iam::aws:") {
				awsManaged[p] = true
			}
		}
	}
	iamChain := float64(gaadPages) * lat
	if len(awsManaged) > 0 {
		iamChain += 2 * lat
	}
	iamCalls := gaadPages + 2*len(awsManaged)
	iamPath := math.Max(iamChain, throttleFloor(iamCalls, s.IAM)+lat)
	return time.Duration(math.Max(lambdaPath, iamPath) * float64(time.Second))
}

func throttleFloor(calls int, lim awsfake.Limits) float64 {
	if lim.Rate <= 0 || float64(calls) <= lim.Burst {
		return 0
	}
	return (float64(calls) - lim.Burst) / lim.Rate
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Account generates the benchmark account for s (deterministic).
func Account(s Settings) *awsfake.Account {
	return awsfake.Generate(awsfake.Spec{Functions: s.Functions, Regions: s.Regions, Roles: s.Roles, Policies: s.Policies, VersionsPerPolicy: 3, Seed: 42})
}

// RunBinary audits the account with the real binary (live mode, every
// enabled region) and measures it.
func RunBinary(ctx context.Context, binary string, a *awsfake.Account, s Settings, strategy string) (Result, error) {
	srv := awsfake.Start(a, awsfake.Options{Latency: s.Latency, Lambda: s.Lambda, IAM: s.IAM})
	defer srv.Close()
	cmd := exec.CommandContext(ctx, binary, "--format", "json")
	cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL="+srv.URL, "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AUDIT_REGIONS=", "AUDIT_IAM_STRATEGY="+strategy)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return Result{}, fmt.Errorf("%s (%s): %v: %s", binary, strategy, err, stderr.String())
	}
	var rep audit.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return Result{}, fmt.Errorf("report: %v", err)
	}
	st := srv.Stats()
	r := Result{Settings: s, Strategy: strategy, Wall: wall, LowerBound: LowerBound(a, s), Calls: st.Calls, Total: st.Total,
		Throttled: st.Throttled, Findings: findingKeys(&rep), Complete: rep.Complete}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSMB = float64(ru.Maxrss) / 1024 // Linux reports kilobytes
	}
	if !rep.Complete {
		return r, fmt.Errorf("%s audit incomplete: %+v", strategy, rep.Errors)
	}
	return r, nil
}

func findingKeys(rep *audit.Report) []string {
	keys := make([]string, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		keys = append(keys, f.Rule+"|"+string(f.Severity)+"|"+f.RoleARN+"|"+strings.Join(f.Functions, ","))
	}
	sort.Strings(keys)
	return keys
}

// RunSeedProcedure follows the rule's documented audit, as its CLI steps
// do: list functions, one GetFunction per function for its role, then per
// shared role ListAttachedRolePolicies, GetPolicy and GetPolicyVersion per
// attached policy, ListRolePolicies and GetRolePolicy per inline policy.
// Regions run in parallel and IAM calls four at a time, which is kinder to
// it than a person at a terminal.
func RunSeedProcedure(ctx context.Context, a *awsfake.Account, s Settings) (Result, error) {
	srv := awsfake.Start(a, awsfake.Options{Latency: s.Latency, Lambda: s.Lambda, IAM: s.IAM})
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""), BaseEndpoint: aws.String(srv.URL), Retryer: awsenv.NewRetryer}
	start := time.Now()
	var mu sync.Mutex
	roleUsers := map[string]int{}
	var wg sync.WaitGroup
	var firstErr error
	for _, region := range a.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lc := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.Region = region })
			p := lambda.NewListFunctionsPaginator(lc, &lambda.ListFunctionsInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				for _, f := range page.Functions {
					got, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: f.FunctionName})
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					mu.Lock()
					roleUsers[aws.ToString(got.Configuration.Role)]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, fmt.Errorf("seed procedure: %w", firstErr)
	}
	ic := iam.NewFromConfig(cfg)
	sem := make(chan struct{}, 4)
	for role, users := range roleUsers {
		if users < 2 {
			continue // the procedure inspects shared roles only
		}
		name := role[strings.LastIndex(role, "/")+1:]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := seedRole(ctx, ic, name)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, fmt.Errorf("seed procedure: %w", firstErr)
	}
	st := srv.Stats()
	return Result{Settings: s, Strategy: "seed procedure", Wall: time.Since(start), LowerBound: LowerBound(a, s), Calls: st.Calls, Total: st.Total, Throttled: st.Throttled, Complete: true}, nil
}

func seedRole(ctx context.Context, ic *iam.Client, name string) error {
	att, err := ic.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		return err
	}
	for _, p := range att.AttachedPolicies {
		pol, err := ic.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: p.PolicyArn})
		if err != nil {
			return err
		}
		if _, err := ic.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: p.PolicyArn, VersionId: pol.Policy.DefaultVersionId}); err != nil {
			return err
		}
	}
	inl, err := ic.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		return err
	}
	for _, pn := range inl.PolicyNames {
		if _, err := ic.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pn)}); err != nil {
			return err
		}
	}
	return nil
}

// EstimateSeed is the seed procedure's throttle floor, for sizes too slow
// to run: per region one GetFunction per function at the Lambda rate, and
// at least four IAM calls per shared role at the IAM rate.
func EstimateSeed(a *awsfake.Account, s Settings) time.Duration {
	worst := 0.0
	for _, fns := range a.Functions {
		worst = math.Max(worst, throttleFloor(len(fns), s.Lambda))
	}
	users := map[string]int{}
	for _, fns := range a.Functions {
		for _, f := range fns {
			users[f.Role]++
		}
	}
	shared := 0
	for _, n := range users {
		if n > 1 {
			shared++
		}
	}
	return time.Duration((worst + throttleFloor(4*shared, s.IAM)) * float64(time.Second))
}
