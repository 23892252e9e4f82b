package inventory

import (
	"context"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// LambdaAPI is the part of the Lambda client the collector uses.
type LambdaAPI interface {
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	ListFunctions(ctx context.Context, in *lambda.ListFunctionsInput, opts ...func(*lambda.Options)) (*lambda.ListFunctionsOutput, error)
	ListEventSourceMappings(ctx context.Context, in *lambda.ListEventSourceMappingsInput, opts ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
}

// IAMAPI is the part of the IAM client the collector uses: read-only calls.
type IAMAPI interface {
	GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, opts ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, opts ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, opts ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, opts ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, opts ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, opts ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
	ListAccountAliases(ctx context.Context, in *iam.ListAccountAliasesInput, opts ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error)
}

// EFSAPI reads the file system behind an access point (remediation plans
// only).
type EFSAPI interface {
	DescribeAccessPoints(ctx context.Context, in *efs.DescribeAccessPointsInput, opts ...func(*efs.Options)) (*efs.DescribeAccessPointsOutput, error)
}

// RegionAPI lists the regions enabled for the account.
type RegionAPI interface {
	DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error)
}

// IAMStrategy is how role data is read.
type IAMStrategy string

const (
	// StrategyBulk reads every role and customer managed policy with
	// GetAccountAuthorizationDetails (up to 1,000 items a call), in parallel
	// with the function listing. Calls grow with pages, not with roles.
	StrategyBulk IAMStrategy = "bulk"
	// StrategyPerRole makes the seed procedure's per-role calls. Used when
	// the bulk call is denied, and available for comparison.
	StrategyPerRole IAMStrategy = "per-role"
)

// Live collects an account through the AWS APIs.
type Live struct {
	Lambda  func(region string) LambdaAPI
	IAM     IAMAPI
	Regions RegionAPI
	// EFS, when set, resolves the file systems of the access points a
	// function mounts (Function only; a plan without it says what it
	// could not tell).
	EFS func(region string) EFSAPI
	// Strategy defaults to StrategyBulk.
	Strategy IAMStrategy
	// IAMConcurrency bounds concurrent per-role and per-policy IAM calls.
	IAMConcurrency int
	// SkipMappings leaves event source mappings unread (they only feed the
	// remediation plan).
	SkipMappings bool
	Logger       *slog.Logger
}

// Collect lists functions in every region and reads the roles they use.
// Failures in one region or for one role become Problems on the account and
// the rest is still collected; only a failure to know which regions to
// audit is returned as an error.
//
// The critical path is the longest chain of sequential ListFunctions pages
// in one region. Everything else runs beside it: the bulk IAM read starts
// first (it depends on nothing), and the AWS-managed policies attached to
// roles that Lambda can assume are fetched as soon as it ends.
func (l *Live) Collect(ctx context.Context, req Request) (*Account, error) {
	c := &collection{acct: &Account{
		Source:   "live",
		Roles:    map[string]*Role{},
		Policies: map[string]*ManagedPolicy{},
		Mappings: map[string][]EventSourceMapping{},
	}}
	early := l.startIAMRead(ctx, req)
	alias := l.startAliasRead(ctx)
	regions := req.Regions
	if len(regions) == 0 {
		var err error
		if regions, err = l.ListRegions(ctx); err != nil {
			<-early.done
			return nil, err
		}
	}
	l.collectRegions(ctx, regions, c)
	<-early.done
	l.collectRoles(ctx, c, early)
	l.collectPolicies(ctx, c.acct, early)
	c.acct.Alias = <-alias
	c.acct.normalize()
	return c.acct, nil
}

// startAliasRead reads the account's alias beside everything else. The
// alias only labels alerts: when it cannot be read (denied, none set) the
// alerts name the account by its id alone, and the audit is no less
// complete.
func (l *Live) startAliasRead(ctx context.Context) <-chan string {
	out := make(chan string, 1)
	go func() {
		resp, err := l.IAM.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
		switch {
		case err != nil:
			l.logger().Info("account alias unread; alerts name the account by id", "error", err.Error())
			out <- ""
		case len(resp.AccountAliases) == 0:
			out <- ""
		default:
			out <- resp.AccountAliases[0]
		}
	}()
	return out
}

// collection is an account being filled by concurrent readers.
type collection struct {
	mu   sync.Mutex
	acct *Account
}

func (c *collection) addProblem(p Problem) {
	c.mu.Lock()
	c.acct.Problems = append(c.acct.Problems, p)
	c.mu.Unlock()
}

// earlyIAM is the bulk IAM read started before anything else; done is
// closed when it has ended (at once under the per-role strategy).
type earlyIAM struct {
	done       chan struct{}
	bulk       *bulkIAM
	err        error
	prefetched map[string]policyResult
}

// startIAMRead starts the bulk IAM read and, page by page, the fetch of
// the AWS-managed policies principals attach; then it hands both to onRead.
func (l *Live) startIAMRead(ctx context.Context, req Request) *earlyIAM {
	e := &earlyIAM{done: make(chan struct{})}
	if l.strategy() != StrategyBulk {
		close(e.done)
		return e
	}
	go func() {
		defer close(e.done)
		// AWS-managed policies are fetched as soon as a page of the bulk
		// read names them, beside the pages still to come.
		pre := &prefetcher{l: l, ctx: ctx, seen: map[string]bool{}, results: map[string]policyResult{}, sem: make(chan struct{}, l.iamConcurrency())}
		e.bulk, e.err = l.readBulk(ctx, pre.add, req.OnIAMPage)
		e.prefetched = pre.wait()
		if e.err == nil {
			if req.OnIAMRead != nil {
				roles, policies := e.bulk.lambdaView(e.prefetched)
				req.OnIAMRead(IAMRead{Roles: roles, Policies: policies, Directory: e.bulk.directory()})
			}
		}
	}()
	return e
}

// collectRegions lists every region's functions, and beside them its event
// source mappings, all regions at once.
func (l *Live) collectRegions(ctx context.Context, regions []string, c *collection) {
	var wg sync.WaitGroup
	for _, region := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.collectRegion(ctx, region, c)
		}()
	}
	wg.Wait()
}

func (l *Live) collectRegion(ctx context.Context, region string, c *collection) {
	// Mappings only feed remediation plans; list them beside the functions
	// rather than after.
	var maps []EventSourceMapping
	var mapsErr error
	mapsDone := make(chan struct{})
	if l.SkipMappings {
		close(mapsDone)
	} else {
		go func() {
			defer close(mapsDone)
			maps, mapsErr = l.listMappings(ctx, region)
		}()
	}
	fns, err := l.listFunctions(ctx, region)
	<-mapsDone
	if err != nil {
		c.addProblem(Problem{Region: region, Operation: "lambda:ListFunctions", Message: describeAPIError(err)})
		l.logger().Warn("region failed", "region", region, "error", err)
		return
	}
	if mapsErr != nil {
		l.logger().Warn("event source mappings unread", "region", region, "error", mapsErr)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acct.Functions = append(c.acct.Functions, fns...)
	c.acct.Regions = append(c.acct.Regions, region)
	if !l.SkipMappings && mapsErr == nil {
		c.acct.Mappings[region] = maps
	}
}

// collectRoles takes the functions' roles from the bulk read, matched as
// IAM matches role names (whatever their case); a role that the bulk read
// does not hold, or every role when there is no bulk read, is read one by
// one: only IAM's own "no such entity" makes a role missing.
func (l *Live) collectRoles(ctx context.Context, c *collection, early *earlyIAM) {
	unread := c.acct.RoleARNs()
	if l.strategy() == StrategyBulk && early.err == nil {
		unread = c.acct.adoptRoles(early.bulk.lookup())
		if len(unread) > 0 {
			l.logger().Warn("roles missing from the bulk IAM read; reading them one by one", "roles", unread)
		}
	} else if early.err != nil {
		l.logger().Warn("bulk IAM read failed; reading roles one by one", "error", early.err)
	}
	read := l.readRoles(ctx, unread, c.acct.functionAccount(), c.addProblem)
	c.acct.adoptRoles(func(arn string) (*Role, bool) {
		r, ok := read[arn]
		return r, ok
	})
}

// collectPolicies reads each distinct managed policy the roles (and, with
// a bulk read, every principal) use once, however many use it, taking what
// the early read already has.
func (l *Live) collectPolicies(ctx context.Context, acct *Account, early *earlyIAM) {
	needed := map[string]bool{}
	for _, r := range acct.Roles {
		for _, p := range r.AttachedPolicyARNs {
			needed[p] = true
		}
		if r.BoundaryARN != "" {
			needed[r.BoundaryARN] = true
		}
	}
	if early.bulk != nil {
		acct.Directory = early.bulk.directory()
		for _, p := range acct.Directory.AttachedPolicies() {
			needed[p] = true
		}
	}
	results := map[string]policyResult{}
	var toFetch []string
	for arn := range needed {
		switch {
		case early.bulk != nil && early.bulk.policies[arn] != nil:
			results[arn] = policyResult{policy: early.bulk.policies[arn]}
		case early.prefetched != nil && (early.prefetched[arn].policy != nil || early.prefetched[arn].problem != nil):
			results[arn] = early.prefetched[arn]
		default:
			toFetch = append(toFetch, arn)
		}
	}
	for arn, r := range l.fetchPolicies(ctx, toFetch) {
		results[arn] = r
	}
	for arn, r := range results {
		if r.policy != nil {
			acct.Policies[arn] = r.policy
		} else if r.problem != nil {
			acct.Problems = append(acct.Problems, *r.problem)
		}
	}
}

func (l *Live) strategy() IAMStrategy {
	if l.Strategy == "" {
		return StrategyBulk
	}
	return l.Strategy
}

func (l *Live) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Logger
}

func (l *Live) iamConcurrency() int {
	if l.IAMConcurrency <= 0 {
		return 8
	}
	return l.IAMConcurrency
}

// prefetcher fetches AWS-managed policies in the background, each once.
type prefetcher struct {
	l       *Live
	ctx     context.Context
	sem     chan struct{}
	mu      sync.Mutex
	seen    map[string]bool
	results map[string]policyResult
	wg      sync.WaitGroup
}

// add starts fetching the AWS-managed policies among arns not seen yet.
func (p *prefetcher) add(arns ...string) {
	for _, arn := range arns {
		p.mu.Lock()
		skip := arn == "" || p.seen[arn] || arnAccount(arn) != "aws"
		p.seen[arn] = true
		p.mu.Unlock()
		if skip {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.sem <- struct{}{}
			defer func() { <-p.sem }()
			mp, op, err := p.l.readPolicy(p.ctx, arn)
			r := policyResult{policy: mp}
			if err != nil {
				r = policyResult{problem: &Problem{PolicyARN: arn, Operation: op, Message: describeAPIError(err)}}
			}
			p.mu.Lock()
			p.results[arn] = r
			p.mu.Unlock()
		}()
	}
}

// wait returns every result once all fetches have ended.
func (p *prefetcher) wait() map[string]policyResult {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]policyResult, len(p.results))
	for k, v := range p.results {
		out[k] = v
	}
	return out
}
