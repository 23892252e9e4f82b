// Package inventory collects what the audit needs to know about an account:
// its Lambda functions, the execution roles they use, and those roles'
// policies. It reads either a live account through the AWS SDK or an offline
// snapshot of AWS CLI exports, and both produce the same Account.
//
// It decides nothing: judging roles is the audit package's job.
package inventory

import (
	"encoding/json"
	"sort"
	"strings"
)

// Account is everything collected for one audit.
type Account struct {
	ID string `json:"accountId,omitempty"`
	// Alias is the account's alias (iam:ListAccountAliases), when it has
	// one and it could be read: alerts name the account by it.
	Alias  string `json:"accountAlias,omitempty"`
	Source string `json:"source"` // "live" or "snapshot"
	// Regions are the regions whose functions were listed successfully.
	Regions   []string   `json:"regions"`
	Functions []Function `json:"functions"`
	// Roles holds every execution role that a function uses and that could
	// be read, keyed by ARN.
	Roles map[string]*Role `json:"roles"`
	// Policies holds the default version of every managed policy that a
	// collected role attaches or uses as its boundary, keyed by ARN.
	Policies map[string]*ManagedPolicy `json:"policies"`
	// Mappings holds event source mappings by region; a region missing here
	// had its mappings unread (see Problems).
	Mappings map[string][]EventSourceMapping `json:"mappings"`
	// Problems is everything that could not be read. Any problem makes the
	// audit incomplete.
	Problems []Problem `json:"problems,omitempty"`
	// Directory is every principal of the account, for escalation paths
	// through other roles, users and groups; nil when only the functions'
	// own roles could be read (the per-role strategy). Policies then also
	// holds every managed policy these principals attach.
	Directory *Directory `json:"directory,omitempty"`
}

// Directory is the account's principals, by ARN.
type Directory struct {
	Roles  map[string]*Role  `json:"roles"`
	Users  map[string]*User  `json:"users"`
	Groups map[string]*Group `json:"groups"`
}

// User is an IAM user with its identity policies and groups.
type User struct {
	ARN                string         `json:"arn"`
	Name               string         `json:"name"`
	Inline             []InlinePolicy `json:"inlinePolicies,omitempty"`
	AttachedPolicyARNs []string       `json:"attachedPolicies,omitempty"`
	BoundaryARN        string         `json:"permissionsBoundary,omitempty"`
	// Groups are the names of the groups the user is in.
	Groups []string `json:"groups,omitempty"`
}

// Group is an IAM group with its policies.
type Group struct {
	ARN                string         `json:"arn"`
	Name               string         `json:"name"`
	Inline             []InlinePolicy `json:"inlinePolicies,omitempty"`
	AttachedPolicyARNs []string       `json:"attachedPolicies,omitempty"`
}

// AttachedPolicies lists every managed policy the directory's principals
// attach or use as a boundary, once each.
func (d *Directory) AttachedPolicies() []string {
	seen := map[string]bool{}
	var out []string
	add := func(arns ...string) {
		for _, a := range arns {
			if a != "" && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	for _, r := range d.Roles {
		add(r.AttachedPolicyARNs...)
		add(r.BoundaryARN)
	}
	for _, u := range d.Users {
		add(u.AttachedPolicyARNs...)
		add(u.BoundaryARN)
	}
	for _, g := range d.Groups {
		add(g.AttachedPolicyARNs...)
	}
	sort.Strings(out)
	return out
}

// Function is one Lambda function ($LATEST configuration).
type Function struct {
	ARN         string       `json:"functionArn"`
	Name        string       `json:"functionName"`
	Region      string       `json:"region"`
	RoleARN     string       `json:"role"`
	SubnetIDs   []string     `json:"subnetIds,omitempty"`
	TracingMode string       `json:"tracingMode,omitempty"`
	DeadLetter  string       `json:"deadLetterTargetArn,omitempty"`
	KMSKeyARN   string       `json:"kmsKeyArn,omitempty"`
	LayerARNs   []string     `json:"layers,omitempty"`
	FileSystems []FileSystem `json:"fileSystems,omitempty"`
	// References are the environment values that name AWS resources, as
	// those resources; no other environment value is kept.
	References []Reference `json:"references,omitempty"`
}

// FileSystem is an EFS access point mounted by a function.
type FileSystem struct {
	// ARN is the access point's, as the function's configuration gives it.
	ARN            string `json:"arn"`
	LocalMountPath string `json:"localMountPath"`
	// FileSystemID is the file system behind the access point, when it was
	// read (EFS DescribeAccessPoints); a configuration does not name it.
	FileSystemID string `json:"fileSystemId,omitempty"`
}

// EventSourceMapping ties a function to a stream or queue it polls.
type EventSourceMapping struct {
	UUID           string `json:"uuid"`
	FunctionARN    string `json:"functionArn"`
	EventSourceARN string `json:"eventSourceArn,omitempty"`
	// SelfManagedKafka is set for mappings to Kafka clusters outside MSK,
	// which have no event source ARN.
	SelfManagedKafka bool `json:"selfManagedKafka,omitempty"`
}

// Role is an IAM role with its identity policies as collected.
type Role struct {
	ARN  string            `json:"arn"`
	Name string            `json:"name"`
	Tags map[string]string `json:"tags,omitempty"`
	// Inline policies keep their documents as received (URL-encoded string
	// or JSON object); the policy package parses both.
	Inline             []InlinePolicy `json:"inlinePolicies,omitempty"`
	AttachedPolicyARNs []string       `json:"attachedPolicies,omitempty"`
	BoundaryARN        string         `json:"permissionsBoundary,omitempty"`
	// Missing is set when IAM says the role does not exist: the function
	// points at a deleted role and runs with no permissions at all.
	Missing bool `json:"missing,omitempty"`
	// TrustPolicy is who may assume the role, as received.
	TrustPolicy json.RawMessage `json:"trustPolicy,omitempty"`
	// InstanceProfile is set when the role is in an instance profile: code
	// on an EC2 instance can run as it.
	InstanceProfile bool `json:"instanceProfile,omitempty"`
}

// InlinePolicy is a policy embedded in a role.
type InlinePolicy struct {
	Name     string          `json:"name"`
	Document json.RawMessage `json:"document"`
}

// ManagedPolicy is a managed policy's default version.
type ManagedPolicy struct {
	ARN              string          `json:"arn"`
	Name             string          `json:"name"`
	DefaultVersionID string          `json:"defaultVersionId"`
	Document         json.RawMessage `json:"document"`
	// OtherVersions are the non-default versions, when the read carried
	// them (the bulk read and exports do; nil when unknown): one of them
	// can be made the default.
	OtherVersions []PolicyVersion `json:"otherVersions,omitempty"`
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID       string          `json:"id"`
	Document json.RawMessage `json:"document"`
}

// Problem is something the collector could not read.
type Problem struct {
	Region    string `json:"region,omitempty"`
	RoleARN   string `json:"roleArn,omitempty"`
	PolicyARN string `json:"policyArn,omitempty"`
	Operation string `json:"operation,omitempty"`
	Message   string `json:"message"`
}

// RoleARNs returns the distinct execution roles used by functions, sorted.
func (a *Account) RoleARNs() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range a.Functions {
		if f.RoleARN != "" && !seen[f.RoleARN] {
			seen[f.RoleARN] = true
			out = append(out, f.RoleARN)
		}
	}
	sort.Strings(out)
	return out
}

// MappingsFor returns the event source mappings of one function and whether
// its region's mappings were read at all.
func (a *Account) MappingsFor(f Function) ([]EventSourceMapping, bool) {
	list, ok := a.Mappings[f.Region]
	if !ok {
		return nil, false
	}
	var out []EventSourceMapping
	for _, m := range list {
		if m.FunctionARN == f.ARN || m.FunctionARN == f.ARN+":$LATEST" {
			out = append(out, m)
		}
	}
	return out, true
}

// normalize sorts everything so that live and snapshot collections of one
// account compare equal, and fills the account ID from the ARNs it saw.
func (a *Account) normalize() {
	sort.Strings(a.Regions)
	sort.Slice(a.Functions, func(i, j int) bool { return a.Functions[i].ARN < a.Functions[j].ARN })
	for _, r := range a.Roles {
		sort.Strings(r.AttachedPolicyARNs)
		sort.Slice(r.Inline, func(i, j int) bool { return r.Inline[i].Name < r.Inline[j].Name })
	}
	for region := range a.Mappings {
		list := a.Mappings[region]
		sort.Slice(list, func(i, j int) bool { return list[i].UUID < list[j].UUID })
	}
	sort.SliceStable(a.Problems, func(i, j int) bool {
		pi, pj := a.Problems[i], a.Problems[j]
		if pi.Region != pj.Region {
			return pi.Region < pj.Region
		}
		if pi.RoleARN != pj.RoleARN {
			return pi.RoleARN < pj.RoleARN
		}
		return pi.PolicyARN < pj.PolicyARN
	})
	if a.ID == "" {
		for _, f := range a.Functions {
			if id := arnAccount(f.ARN); id != "" {
				a.ID = id
				break
			}
		}
	}
}

// arnAccount returns the account field of an ARN, or "".
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// RoleNameFromARN returns the last path segment of a role ARN
// (arn:aws:iam::123456789012:role/path/name → name).
func RoleNameFromARN(arn string) string {
	i := strings.Index(arn, ":role/")
	if i < 0 {
		return ""
	}
	rest := arn[i+len(":role/"):]
	if j := strings.LastIndex(rest, "/"); j >= 0 {
		rest = rest[j+1:]
	}
	return rest
}
