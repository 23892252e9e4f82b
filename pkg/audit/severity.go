// Package audit applies the rules to a collected account and builds the
// report: which execution roles are shared, which grant admin, how severe
// each finding is and why.
package audit

import (
	"fmt"
	"strings"
)

// Severity of a finding, from low to critical.
type Severity string

const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Severities lists every severity from most to least severe.
var Severities = []Severity{Critical, High, Medium, Low}

// Rank orders severities: critical is 4, low is 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// Lower is one step down the ladder; low stays low.
func (s Severity) Lower() Severity {
	switch s {
	case Critical:
		return High
	case High:
		return Medium
	}
	return Low
}

// AtLeast reports whether s is as severe as min or more.
func (s Severity) AtLeast(min Severity) bool { return s.Rank() >= min.Rank() }

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	if sev.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (expected critical, high, medium or low)", s)
	}
	return sev, nil
}
