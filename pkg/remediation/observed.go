package remediation

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
)

// IAM's size limits, in characters without whitespace: all of a role's
// inline policies together, and one managed policy.
const (
	RoleInlineLimit    = 10240
	ManagedPolicyLimit = 6144
)

// references lists what the function's configuration points at: its
// environment's references (already reduced to resources), event sources,
// dead-letter target and file systems.
func references(fn inventory.Function, mappings []inventory.EventSourceMapping) []audit.Reference {
	var out []audit.Reference
	for _, r := range fn.References {
		out = append(out, audit.Reference{Source: r.Source, Resource: r.Resource})
	}
	for _, m := range mappings {
		if m.EventSourceARN != "" {
			out = append(out, audit.Reference{Source: "eventSourceMapping", Resource: m.EventSourceARN})
		}
	}
	if fn.DeadLetter != "" {
		out = append(out, audit.Reference{Source: "deadLetterConfig", Resource: fn.DeadLetter})
	}
	for _, fs := range fn.FileSystems {
		out = append(out, audit.Reference{Source: "fileSystem:" + fs.LocalMountPath, Resource: fs.ARN})
	}
	// One order whatever order the mappings were listed in: the same
	// function gets the same plan from every path.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Source != out[j].Source {
			return out[i].Source < out[j].Source
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}

// referencedNote names, once, the resources the function's environment
// points at (event sources, the dead-letter target and file systems are
// granted by the plan itself): its code likely calls them, and their data
// calls (objects, items, messages) are not in CloudTrail's event history,
// so no evidence can draft them.
func referencedNote(refs []audit.Reference, observed bool) string {
	var services, listed []string
	for _, r := range refs {
		if !strings.HasPrefix(r.Source, "env:") {
			continue
		}
		if s := arnPart(r.Resource, 2); s != "" && !slices.Contains(services, s) {
			services = append(services, s)
		}
		listed = append(listed, r.Resource+" ("+r.Source+")")
	}
	if len(listed) == 0 {
		return ""
	}
	sort.Strings(services)
	lead := "Its environment points at "
	if observed {
		lead = "Event history holds management events only; its environment points at "
	}
	return lead + strings.Join(listed, ", ") + ": data calls to these (" + strings.Join(services, ", ") +
		") are not in CloudTrail's event history and cannot be observed: grant the ones the code makes by hand, scoped to these ARNs."
}

// AddEvidence adds what the function was seen calling (pkg/usage) to its
// plan: the observed actions, how they were read, a draft policy with
// exactly those actions on exactly those resources, and notes that say
// what was and what could not be observed, in place of the blanket
// data-access warning.
func AddEvidence(p *Plan, observed []audit.ObservedAction, window audit.UsageWindow) {
	p.Observed, p.UsageWindow = observed, &window
	doc, unscoped := ObservedPolicy(observed)
	budget := RoleInlineLimit
	if p.HasInline() {
		budget -= len(compact(p.InlinePolicy))
	}
	if doc != nil {
		p.ObservedPolicy = doc
		if len(doc) > budget {
			p.ObservedPolicyParts = SplitPolicy(doc, ManagedPolicyLimit)
		}
	}
	var notes []string
	notes = append(notes, usageSummary(p, window))
	if line := observedLine(observed); line != "" {
		notes = append(notes, "Observed calls: "+line+".")
	}
	if len(unscoped) > 0 {
		notes = append(notes, "Observed without a recorded resource, so left out of observed-usage (grant them by hand, scoped): "+strings.Join(unscoped, ", ")+".")
	}
	for _, u := range p.Unknowns {
		if u != DataAccessUnknown && !strings.HasPrefix(u, "Its environment points at") {
			notes = append(notes, u)
		}
	}
	if n := referencedNote(p.Referenced, true); n != "" {
		notes = append(notes, n)
	}
	p.Unknowns = notes
}

// usageSummary says what was observed, how, and what is missing.
func usageSummary(p *Plan, w audit.UsageWindow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Observed in CloudTrail event history over %d days (%d lookups in %s, %d events of this function's own session): ",
		w.Days, w.CallsMade, strings.Join(w.Regions, ", "), w.Events)
	switch {
	case len(p.Observed) == 0:
		b.WriteString("no calls; ")
	case len(p.ObservedPolicyParts) > 0:
		fmt.Fprintf(&b, "%d actions, drafted as %d managed policies (too large to sit inline beside the role's own); ", len(p.Observed), len(p.ObservedPolicyParts))
	default:
		fmt.Fprintf(&b, "%d actions, drafted as the inline policy %s; ", len(p.Observed), "observed-usage")
	}
	b.WriteString("review before use: a call the function makes rarely may not be in the window.")
	if w.CutShort {
		fmt.Fprintf(&b, " The lookup stopped at its budget of %d calls: older events were not read.", w.CallsMade)
	}
	for _, e := range w.Errors {
		fmt.Fprintf(&b, " Not read: %s.", strings.TrimSuffix(e, "."))
	}
	return b.String()
}

// ObservedPolicy drafts the policy of the observed calls: per service, one
// statement per set of resources its actions were seen on; "*" only for
// actions with no resource type. Actions seen without a resource are
// returned apart (unscoped), never granted on "*". nil when nothing can be
// granted.
func ObservedPolicy(observed []audit.ObservedAction) (doc json.RawMessage, unscoped []string) {
	type key struct{ service, resources string }
	groups := map[key][]string{}
	var keys []key
	for _, o := range observed {
		if len(o.Resources) == 0 {
			unscoped = append(unscoped, o.Action)
			continue
		}
		k := key{o.Action[:strings.Index(o.Action, ":")], strings.Join(o.Resources, "\x00")}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], o.Action)
	}
	if len(keys) == 0 {
		return nil, unscoped
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].service != keys[j].service {
			return keys[i].service < keys[j].service
		}
		return keys[i].resources < keys[j].resources
	})
	var stmts []Statement
	count := map[string]int{}
	for _, k := range keys {
		count[k.service]++
		actions := groups[k]
		sort.Strings(actions)
		stmts = append(stmts, Statement{Sid: sid(k.service, count[k.service]), Effect: "Allow", Action: actions, Resource: strings.Split(k.resources, "\x00")})
	}
	b, _ := json.Marshal(document{Version: "2012-10-17", Statement: stmts}) // plain strings always marshal
	return b, unscoped
}

// sid is a statement id from a service prefix: "ObservedSecretsmanager2".
func sid(service string, n int) string {
	var b strings.Builder
	b.WriteString("Observed")
	up := true
	for _, r := range service {
		if r == '-' {
			up = true
			continue
		}
		if up {
			b.WriteString(strings.ToUpper(string(r)))
			up = false
			continue
		}
		b.WriteRune(r)
	}
	if n > 1 {
		fmt.Fprint(&b, n)
	}
	return b.String()
}

// SplitPolicy splits a policy into documents of at most limit characters,
// statements kept whole and in order (a statement larger than the limit
// alone gets a document of its own, which IAM will refuse: said by the
// caller's size check).
func SplitPolicy(doc json.RawMessage, limit int) []json.RawMessage {
	var d document
	if json.Unmarshal(doc, &d) != nil {
		return nil
	}
	var parts []json.RawMessage
	var cur []Statement
	flush := func() {
		if len(cur) > 0 {
			b, _ := json.Marshal(document{Version: d.Version, Statement: cur})
			parts = append(parts, b)
			cur = nil
		}
	}
	for _, st := range d.Statement {
		next, _ := json.Marshal(document{Version: d.Version, Statement: append(append([]Statement{}, cur...), st)})
		if len(next) > limit && len(cur) > 0 {
			flush()
		}
		cur = append(cur, st)
	}
	flush()
	return parts
}

// observedLine lists the observed calls compactly, per service: "ssm:
// GetParameter on arn:...; sts: GetCallerIdentity on *".
func observedLine(observed []audit.ObservedAction) string {
	type group struct{ actions, resources []string }
	var services []string
	groups := map[string]*group{}
	for _, o := range observed {
		i := strings.Index(o.Action, ":")
		service, name := o.Action[:i], o.Action[i+1:]
		g, ok := groups[service]
		if !ok {
			g = &group{}
			groups[service] = g
			services = append(services, service)
		}
		g.actions = append(g.actions, name)
		for _, r := range o.Resources {
			if !slices.Contains(g.resources, r) {
				g.resources = append(g.resources, r)
			}
		}
	}
	sort.Strings(services)
	var parts []string
	for _, s := range services {
		g := groups[s]
		on := "no recorded resource"
		if len(g.resources) > 0 {
			on = strings.Join(g.resources, ", ")
		}
		parts = append(parts, fmt.Sprintf("%s: %s on %s", s, strings.Join(g.actions, ", "), on))
	}
	return strings.Join(parts, "; ")
}
