package bench

import (
	"testing"
	"time"

	"lambda-role-audit/internal/awsfake"
)

func TestLowerBound(t *testing.T) {
	// Two regions: 120 functions (3 pages) and 10 (1 page); 1,500 roles and
	// 600 local policies (3 IAM pages); AWS-managed policies in use.
	a := &awsfake.Account{Regions: []string{"r1", "r2"}, Functions: map[string][]awsfake.Function{}}
	for i := 0; i < 120; i++ {
		a.Functions["r1"] = append(a.Functions["r1"], awsfake.Function{})
	}
	for i := 0; i < 10; i++ {
		a.Functions["r2"] = append(a.Functions["r2"], awsfake.Function{})
	}
	for i := 0; i < 1500; i++ {
		a.Roles = append(a.Roles, awsfake.Role{Attached: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}})
	}
	for i := 0; i < 600; i++ {
		a.Policies = append(a.Policies, awsfake.Policy{ARN: "arn:aws:iam::123456789012:policy/p"})
	}
	s := Settings{Latency: 100 * time.Millisecond}
	// Lambda: DescribeRegions + 3 pages = 0.4 s. IAM: 3 pages + GetPolicy +
	// GetPolicyVersion = 0.5 s. The bound is the longer.
	if got := LowerBound(a, s); got != 500*time.Millisecond {
		t.Fatalf("lower bound = %v, want 500ms", got)
	}
	// A throttle of 1 call/s with a burst of 2 makes Lambda's 4 calls in r1
	// (3 pages + 1 mappings page) take at least 2 s + latency, + DescribeRegions.
	s.Lambda = awsfake.Limits{Rate: 1, Burst: 2}
	if got := LowerBound(a, s); got != 2200*time.Millisecond {
		t.Fatalf("throttled lower bound = %v, want 2.2s", got)
	}
}
