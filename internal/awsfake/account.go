// Package awsfake is an AWS-compatible test server for the APIs the audit
// calls. It serves a generated account over the real wire protocols (Lambda
// REST-JSON with 50-per-page ListFunctions, IAM and EC2 query/XML with
// URL-encoded documents), with configurable latency and token-bucket
// throttling answered in each service's own error format. Tests use it where
// moto cannot help (pagination, throttling); the benchmark uses it at scale.
package awsfake

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// Account is the data the server serves.
type Account struct {
	ID      string
	Regions []string
	// Functions by region; the server sorts them by name.
	Functions map[string][]Function
	Roles     []Role
	Policies  []Policy
}

// Function is one Lambda function.
type Function struct {
	Name string
	Role string // role name, in this account
	// RoleARN, when set, is the role ARN as the function gives it, in
	// place of Role (another account, another path).
	RoleARN  string
	Subnets  []string
	Tracing  bool
	Mappings []string // event source ARNs
}

// Role is an execution role.
type Role struct {
	Name     string
	Inline   []NamedDoc
	Attached []string // policy ARNs
	Boundary string
}

// NamedDoc is an inline policy.
type NamedDoc struct{ Name, Doc string }

// Policy is a managed policy with its versions; Default indexes Versions.
type Policy struct {
	ARN, Name string
	Versions  []string
	Default   int
}

// RoleARN returns the ARN of a role in this account.
func (a *Account) RoleARN(name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", a.ID, name)
}

// FunctionARN returns the ARN of a function in this account.
func (a *Account) FunctionARN(region, name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, a.ID, name)
}

// FunctionCount is the number of functions in every region.
func (a *Account) FunctionCount() int {
	n := 0
	for _, fns := range a.Functions {
		n += len(fns)
	}
	return n
}

// Spec sizes a generated account.
type Spec struct {
	Functions, Regions, Roles, Policies int
	// VersionsPerPolicy is how many versions each managed policy has.
	VersionsPerPolicy int
	Seed              uint64
}

// AllRegions are 17 commercial regions, the benchmark's default spread.
var AllRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-southeast-1", "ap-southeast-2", "sa-east-1",
}

const (
	adminDoc     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	basicExecARN = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
	vpcExecARN   = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
	adminARN     = "arn:aws:iam::aws:policy/AdministratorAccess"
)

// AWSManagedPolicies are the AWS-managed policies the generator attaches.
var AWSManagedPolicies = []Policy{
	{ARN: basicExecARN, Name: "AWSLambdaBasicExecutionRole", Versions: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`}},
	{ARN: vpcExecARN, Name: "AWSLambdaVPCAccessExecutionRole", Versions: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:CreateNetworkInterface","ec2:DescribeNetworkInterfaces","ec2:DeleteNetworkInterface","logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`}},
	{ARN: adminARN, Name: "AdministratorAccess", Versions: []string{adminDoc}},
}

// Generate builds a deterministic synthetic account: a third of the roles
// shared by several functions, about one role in ten admin (inline, managed
// or AWS-managed), customer managed policies with several versions where
// only the default one decides, and realistic inline policies.
func Generate(s Spec) *Account {
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))
	if s.Regions <= 0 || s.Regions > len(AllRegions) {
		s.Regions = len(AllRegions)
	}
	if s.VersionsPerPolicy <= 0 {
		s.VersionsPerPolicy = 3
	}
	a := &Account{ID: "123456789012", Regions: append([]string(nil), AllRegions[:s.Regions]...), Functions: map[string][]Function{}}

	for i := 0; i < s.Policies; i++ {
		p := Policy{ARN: fmt.Sprintf("arn:aws:iam::%s:policy/app/policy-%04d", a.ID, i), Name: fmt.Sprintf("policy-%04d", i)}
		for v := 0; v < s.VersionsPerPolicy; v++ {
			p.Versions = append(p.Versions, appDoc(rng, i, v))
		}
		p.Default = s.VersionsPerPolicy - 1
		switch i % 20 {
		case 0: // admin, and it is the default version
			p.Versions[p.Default] = adminDoc
		case 1: // admin only in an old version: must not count
			p.Versions[0] = adminDoc
		}
		a.Policies = append(a.Policies, p)
	}
	a.Policies = append(a.Policies, AWSManagedPolicies...)

	for i := 0; i < s.Roles; i++ {
		r := Role{Name: fmt.Sprintf("fn-role-%05d", i), Attached: []string{basicExecARN}}
		r.Inline = append(r.Inline, NamedDoc{Name: "data-access", Doc: appDoc(rng, i, 0)})
		if s.Policies > 0 {
			r.Attached = append(r.Attached, a.Policies[rng.IntN(s.Policies)].ARN)
		}
		switch i % 30 {
		case 3:
			r.Inline = append(r.Inline, NamedDoc{Name: "break-glass", Doc: adminDoc})
		case 7:
			r.Attached = append(r.Attached, adminARN)
		case 11:
			r.Attached = append(r.Attached, adminARN)
			if s.Policies > 2 {
				r.Boundary = a.Policies[2].ARN
			}
		}
		a.Roles = append(a.Roles, r)
	}

	// A third of the roles are shared: they take the functions left over
	// once every role has one.
	shared := s.Roles / 3
	for i := 0; i < s.Functions; i++ {
		region := a.Regions[i%len(a.Regions)]
		var role int
		switch {
		case s.Roles == 0:
			continue
		case i < s.Roles:
			role = i
		case shared > 0:
			role = rng.IntN(shared)
		default:
			role = rng.IntN(s.Roles)
		}
		f := Function{Name: fmt.Sprintf("fn-%05d", i), Role: a.Roles[role].Name, Tracing: i%4 == 0}
		if i%5 == 0 {
			f.Subnets = []string{"subnet-0a1b2c3d", "subnet-4e5f6a7b"}
		}
		if i%25 == 0 {
			f.Mappings = []string{fmt.Sprintf("arn:aws:sqs:%s:%s:queue-%05d", region, a.ID, i)}
		}
		a.Functions[region] = append(a.Functions[region], f)
	}
	for _, fns := range a.Functions {
		sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	}
	return a
}

// appDoc is a plausible application policy: a few services, scoped ARNs.
func appDoc(rng *rand.Rand, i, v int) string {
	services := []string{"s3:GetObject", "s3:PutObject", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "sqs:SendMessage", "sns:Publish", "kms:Decrypt", "secretsmanager:GetSecretValue"}
	a, b := rng.IntN(len(services)), rng.IntN(len(services))
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"App%dV%d","Effect":"Allow","Action":[%q,%q],"Resource":["arn:aws:s3:::app-%04d/*","arn:aws:dynamodb:*:123456789012:table/app-%04d"]},{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"arn:aws:logs:*:*:log-group:/aws/lambda/app-%04d:*"}]}`,
		i, v, services[a], services[b], i, i, i)
}
