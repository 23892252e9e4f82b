// Package handler is the scheduled Lambda function: it reads its
// configuration from the environment, decodes the invoking event, runs
// collect → evaluate → notify within the invocation's deadline, and returns
// a compact summary.
package handler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/notify"
)

// Config is the function's configuration, set by the template.
type Config struct {
	TopicARN      string
	Regions       []string
	NotifyOn      string // a notify mode (notify.ModeFindings, ...)
	MinSeverity   audit.Severity
	SuppressRoles []string
	// StateBucket and StateKey locate the last complete report (S3).
	StateBucket, StateKey string
	// AuditRoleARN is the function's own role: its calls never trigger an
	// audit.
	AuditRoleARN string
	LogGroup     string
	LogStream    string
	// SecurityHub imports findings into the account's Security Hub in
	// SecurityHubRegion (the function's own region).
	SecurityHub       bool
	SecurityHubRegion string
	// UsageEvidence reads, for the functions of alerting findings, their
	// own calls from CloudTrail into their plans, within UsageMaxCalls
	// LookupEvents calls in all.
	UsageEvidence bool
	UsageMaxCalls int
}

// loadConfig reads and validates the environment. Every bad value is named,
// so a misconfigured deployment fails on its first run with a clear error.
func loadConfig(env func(string) string) (Config, error) {
	c := Config{
		TopicARN:     strings.TrimSpace(env("ALERT_TOPIC_ARN")),
		NotifyOn:     strings.TrimSpace(env("NOTIFY_ON")),
		StateBucket:  strings.TrimSpace(env("STATE_BUCKET")),
		StateKey:     strings.TrimSpace(env("STATE_KEY")),
		AuditRoleARN: strings.TrimSpace(env("AUDIT_ROLE_ARN")),
		LogGroup:     env("AWS_LAMBDA_LOG_GROUP_NAME"),
		LogStream:    env("AWS_LAMBDA_LOG_STREAM_NAME"),
	}
	var errs []error
	if c.TopicARN == "" {
		errs = append(errs, errors.New("ALERT_TOPIC_ARN is required: the SNS topic that receives alerts"))
	} else if err := notify.CheckTopicARN(c.TopicARN); err != nil {
		errs = append(errs, fmt.Errorf("ALERT_TOPIC_ARN: %w", err))
	}
	regions, err := inventory.ParseRegions(env("AUDIT_REGIONS"))
	if err != nil {
		errs = append(errs, fmt.Errorf("AUDIT_REGIONS: %w", err))
	}
	c.Regions = regions
	if c.NotifyOn == "" {
		c.NotifyOn = notify.ModeFindings
	}
	if err := notify.CheckMode(c.NotifyOn); err != nil {
		errs = append(errs, fmt.Errorf("NOTIFY_ON: %w", err))
	}
	c.MinSeverity = audit.Medium
	if s := strings.TrimSpace(env("MIN_SEVERITY")); s != "" {
		sev, err := audit.ParseSeverity(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("MIN_SEVERITY: %w", err))
		}
		c.MinSeverity = sev
	}
	for _, r := range strings.Split(env("SUPPRESS_ROLES"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.SuppressRoles = append(c.SuppressRoles, r)
		}
	}
	switch v := strings.TrimSpace(env("SECURITY_HUB")); v {
	case "", "off":
	case "on":
		c.SecurityHub, c.SecurityHubRegion = true, strings.TrimSpace(env("AWS_REGION"))
		if !inventory.ValidRegion(c.SecurityHubRegion) {
			errs = append(errs, fmt.Errorf("SECURITY_HUB=on needs AWS_REGION (set by Lambda), which is %q", c.SecurityHubRegion))
		}
	default:
		errs = append(errs, fmt.Errorf("SECURITY_HUB: %q is neither on nor off", v))
	}
	switch v := strings.TrimSpace(env("USAGE_EVIDENCE")); v {
	case "", "off":
	case "on":
		c.UsageEvidence, c.UsageMaxCalls = true, defaultUsageBudget
		if b := strings.TrimSpace(env("USAGE_MAX_CALLS")); b != "" {
			n, err := strconv.Atoi(b)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("USAGE_MAX_CALLS: %q is not a positive number of calls", b))
			}
			c.UsageMaxCalls = n
		}
	default:
		errs = append(errs, fmt.Errorf("USAGE_EVIDENCE: %q is neither on nor off", v))
	}
	if c.StateKey == "" {
		c.StateKey = notify.DefaultStateKey
	}
	if c.NotifyOn == notify.ModeChange && c.StateBucket == "" {
		errs = append(errs, errors.New("STATE_BUCKET is required when NOTIFY_ON is change"))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
}
