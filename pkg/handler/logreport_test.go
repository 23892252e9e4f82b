package handler

import (
	"fmt"
	"testing"

	"lambda-role-audit/pkg/audit"
)

func TestFindingPartsFitAndKeepEverything(t *testing.T) {
	var findings []audit.Finding
	for i := 0; i < 3000; i++ {
		findings = append(findings, audit.Finding{ID: fmt.Sprint(i), Rule: audit.RuleSharedRole, RoleARN: fmt.Sprintf("arn:aws:iam::123456789012:role/r%d", i), Functions: []string{"a", "b"}})
	}
	huge := audit.Finding{ID: "huge", Rule: audit.RuleSharedAdminRole}
	for i := 0; i < 20000; i++ {
		huge.Functions = append(huge.Functions, fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:function:fn-%05d", i))
	}
	findings = append(findings, huge)
	parts := findingParts(findings, maxLogRecordBytes)
	count, functions := 0, 0
	for _, p := range parts {
		if n := jsonSize(p); n > maxLogRecordBytes {
			t.Fatalf("part of %d bytes exceeds the limit", n)
		}
		for _, f := range p {
			if f.ID == "huge" {
				functions += len(f.Functions)
			} else {
				count++
			}
		}
	}
	if count != 3000 || functions != 20000 || len(parts) < 3 {
		t.Fatalf("parts kept %d findings and %d functions of the huge one in %d parts", count, functions, len(parts))
	}
}
