package run_test

import (
	"context"
	"testing"

	"lambda-role-audit/internal/awsfake"
	"lambda-role-audit/pkg/run"
)

// BenchmarkAuditInProcess is one whole audit of a 10,000-function account
// served without latency: the CPU the audit itself spends (make bench
// measures wall time against a throttled, slow server).
func BenchmarkAuditInProcess(b *testing.B) {
	srv := awsfake.Start(awsfake.Generate(awsfake.Spec{Functions: 10000, Regions: 17, Roles: 3000, Policies: 1000, Seed: 1}), awsfake.Options{})
	defer srv.Close()
	collector := awsfake.Collector(srv.URL)
	for b.Loop() {
		if _, err := run.Audit(context.Background(), collector, run.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
