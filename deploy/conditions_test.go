package deploy

import (
	"fmt"
	"sort"
	"testing"
)

// deployed is the template as CloudFormation would deploy it with these
// parameter values (the rest at their defaults): conditions evaluated,
// resources and outputs whose condition is false dropped, Fn::If replaced
// by its chosen branch and AWS::NoValue removed. Other intrinsics stay.
func deployed(t *testing.T, tpl map[string]any, params map[string]string) map[string]any {
	t.Helper()
	_, cond := evaluator(t, tpl, params)
	var resolve func(v any) (any, bool)
	resolve = func(v any) (any, bool) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["Ref"]; ok && len(x) == 1 && ref == "AWS::NoValue" {
				return nil, false
			}
			if args, ok := x["Fn::If"].([]any); ok && len(x) == 1 {
				if cond(args[0].(string)) {
					return resolve(args[1])
				}
				return resolve(args[2])
			}
			out := map[string]any{}
			for k, val := range x {
				if r, keep := resolve(val); keep {
					out[k] = r
				}
			}
			return out, true
		case []any:
			out := []any{}
			for _, val := range x {
				if r, keep := resolve(val); keep {
					out = append(out, r)
				}
			}
			return out, true
		}
		return v, true
	}
	out := map[string]any{}
	for section, body := range tpl {
		if section != "Resources" && section != "Outputs" {
			out[section] = body
			continue
		}
		kept := map[string]any{}
		for id, r := range body.(map[string]any) {
			if c, ok := r.(map[string]any)["Condition"].(string); ok && !cond(c) {
				continue
			}
			resolved, _ := resolve(r)
			kept[id] = resolved
		}
		out[section] = kept
	}
	return out
}

// brokenRules lists the template's Rules whose assertions fail with these
// parameter values: CloudFormation would refuse the deployment.
func brokenRules(t *testing.T, tpl map[string]any, params map[string]string) []string {
	t.Helper()
	eval, _ := evaluator(t, tpl, params)
	var broken []string
	for name, r := range tpl["Rules"].(map[string]any) {
		rule := r.(map[string]any)
		if c, ok := rule["RuleCondition"]; ok && !eval(c).(bool) {
			continue
		}
		for _, a := range rule["Assertions"].([]any) {
			if !eval(a.(map[string]any)["Assert"]).(bool) {
				broken = append(broken, name)
			}
		}
	}
	sort.Strings(broken)
	return broken
}

// evaluator evaluates condition functions with these parameter values
// (the rest at their defaults).
func evaluator(t *testing.T, tpl map[string]any, params map[string]string) (func(any) any, func(string) bool) {
	t.Helper()
	values := map[string]any{"AWS::Partition": "aws", "AWS::Region": "us-east-1"}
	for name, p := range tpl["Parameters"].(map[string]any) {
		if d, ok := p.(map[string]any)["Default"]; ok {
			values[name] = fmt.Sprint(d)
		}
	}
	for k, v := range params {
		if _, ok := tpl["Parameters"].(map[string]any)[k]; !ok {
			t.Fatalf("the template has no parameter %s", k)
		}
		values[k] = v
	}
	conds := map[string]bool{}
	defs, _ := tpl["Conditions"].(map[string]any)
	var eval func(v any) any
	var cond func(name string) bool
	cond = func(name string) bool {
		if c, ok := conds[name]; ok {
			return c
		}
		def, ok := defs[name]
		if !ok {
			t.Fatalf("no condition %s", name)
		}
		b, ok := eval(def).(bool)
		if !ok {
			t.Fatalf("condition %s does not evaluate to a boolean: %v", name, def)
		}
		conds[name] = b
		return b
	}
	eval = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				for k, arg := range x {
					args, _ := arg.([]any)
					switch k {
					case "Ref":
						if val, ok := values[arg.(string)]; ok {
							return val
						}
					case "Condition":
						return cond(arg.(string))
					case "Fn::Equals":
						return fmt.Sprint(eval(args[0])) == fmt.Sprint(eval(args[1]))
					case "Fn::Not":
						return !eval(args[0]).(bool)
					case "Fn::And", "Fn::Or":
						all, any := true, false
						for _, a := range args {
							b := eval(a).(bool)
							all, any = all && b, any || b
						}
						return map[string]bool{"Fn::And": all, "Fn::Or": any}[k]
					}
				}
			}
		}
		return v
	}
	return eval, cond
}
