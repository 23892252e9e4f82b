// Package policy parses IAM policy documents and classifies their statements.
//
// It is pure: no AWS calls, no I/O. Every input form that IAM, the AWS SDK or
// the AWS CLI produces is accepted, and malformed input is an error that names
// the offending place, never a panic.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MaxDocumentBytes bounds the size of a document we are willing to parse.
// IAM's own limits are far smaller (a managed policy is at most 6,144
// characters), so anything above this is corrupt input, not a policy.
const MaxDocumentBytes = 10 << 20

// Effect is a statement's Effect element.
type Effect string

const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Document is a parsed identity-based policy document.
type Document struct {
	Version   string
	Statement []Statement
}

// Statement is one statement of a policy document. Elements that may be a
// string or an array are normalised to slices; absent elements are nil.
type Statement struct {
	Sid         string
	Effect      Effect
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	// HasCondition is true when a Condition tests at least one key: the
	// statement may not apply, and the audit cannot tell.
	HasCondition bool
	// Principal and NotPrincipal stay raw: only trust policies use them.
	Principal, NotPrincipal json.RawMessage
}

// ParseString parses a document as IAM's API returns it (URL-encoded, RFC
// 3986) or as raw JSON text. A string that already starts with '{' is raw
// JSON and is not decoded; anything else is percent-decoded exactly once.
func ParseString(s string) (*Document, error) {
	if len(s) > MaxDocumentBytes {
		return nil, fmt.Errorf("policy document is %d bytes, over the %d-byte limit", len(s), MaxDocumentBytes)
	}
	text := strings.TrimSpace(s)
	if text == "" {
		return nil, errors.New("policy document is empty")
	}
	if text[0] != '{' {
		// PathUnescape, unlike QueryUnescape, leaves '+' alone: IAM encodes
		// with RFC 3986, where '+' is a literal plus sign.
		decoded, err := url.PathUnescape(text)
		if err != nil {
			return nil, fmt.Errorf("policy document is neither JSON nor valid URL encoding: %w", err)
		}
		text = strings.TrimSpace(decoded)
		if text == "" || text[0] != '{' {
			if strings.HasPrefix(text, "%7B") || strings.HasPrefix(text, "%7b") {
				return nil, errors.New("policy document is still URL-encoded after one decoding (double-encoded)")
			}
			return nil, fmt.Errorf("policy document is not a JSON object after URL decoding (starts with %q)", preview(text))
		}
	}
	return parseJSON([]byte(text))
}

// ParseJSON parses a document given as a JSON value: either an object (as the
// AWS CLI writes documents in its exports) or a string holding the document
// in any form ParseString accepts.
func ParseJSON(raw json.RawMessage) (*Document, error) {
	if len(raw) > MaxDocumentBytes {
		return nil, fmt.Errorf("policy document is %d bytes, over the %d-byte limit", len(raw), MaxDocumentBytes)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, errors.New("policy document is empty")
	}
	switch trimmed[0] {
	case '{':
		return parseJSON(trimmed)
	case '"':
		// IAM's URL-encoded text has no quotes or backslashes, so the JSON
		// string needs no unescaping: skip the decoder on the common path.
		if len(trimmed) >= 2 && trimmed[len(trimmed)-1] == '"' && !bytes.ContainsAny(trimmed[1:len(trimmed)-1], "\\\"") {
			return ParseString(string(trimmed[1 : len(trimmed)-1]))
		}
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return nil, fmt.Errorf("policy document string: %w", err)
		}
		return ParseString(s)
	default:
		return nil, fmt.Errorf("policy document must be a JSON object or string, got %q", preview(string(trimmed)))
	}
}

// Element names IAM accepts. IAM compares them case-sensitively and
// rejects duplicates; Go's struct decoding would match them in any case and
// keep the last duplicate, so a document is read member by member instead,
// and anything IAM would reject is an error naming the key.
var (
	documentKeys  = map[string]bool{"Version": true, "Id": true, "Statement": true}
	statementKeys = map[string]bool{"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true,
		"Action": true, "NotAction": true, "Resource": true, "NotResource": true, "Condition": true}
)

type member struct {
	key   string
	value json.RawMessage
}

// members reads a JSON object's members in order, exactly as written. what
// names the object in errors ("policy document", "statement 2").
func members(data []byte, what string, allowed map[string]bool) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: must be a JSON object", what)
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		key, _ := tok.(string) // object keys are always strings
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", what, key, err)
		}
		if !allowed[key] {
			return nil, fmt.Errorf("%s: key %q is not an IAM policy element%s", what, key, suggestKey(key, allowed))
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s: key %q appears twice (IAM rejects duplicate keys)", what, key)
		}
		out[key] = value
	}
	return out, nil
}

// suggestKey names the element a wrongly cased key was meant to be.
func suggestKey(key string, allowed map[string]bool) string {
	for k := range allowed {
		if strings.EqualFold(k, key) {
			return fmt.Sprintf(" (IAM element names are case-sensitive: %q)", k)
		}
	}
	return ""
}

func parseJSON(data []byte) (*Document, error) {
	var whole json.RawMessage
	if err := json.Unmarshal(data, &whole); err != nil {
		return nil, fmt.Errorf("policy document is not valid JSON: %w", describeJSONError(data, err))
	}
	top, err := members(whole, "policy document", documentKeys)
	if err != nil {
		return nil, err
	}
	doc := &Document{}
	if v, ok := top["Version"]; ok {
		if err := json.Unmarshal(v, &doc.Version); err != nil {
			return nil, errors.New("policy document Version must be a string")
		}
	}
	stmts, err := splitStatements(top["Statement"])
	if err != nil {
		return nil, err
	}
	doc.Statement = make([]Statement, 0, len(stmts))
	for i, rs := range stmts {
		st, err := parseStatement(rs, fmt.Sprintf("statement %d", i))
		if err != nil {
			return nil, err
		}
		doc.Statement = append(doc.Statement, st)
	}
	return doc, nil
}

func splitStatements(raw json.RawMessage) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, errors.New("policy document has no Statement element")
	}
	switch trimmed[0] {
	case '{':
		return []json.RawMessage{trimmed}, nil
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("Statement: %w", err)
		}
		return list, nil
	default:
		return nil, errors.New("Statement must be an object or an array of objects")
	}
}

func parseStatement(raw json.RawMessage, what string) (Statement, error) {
	el, err := members(bytes.TrimSpace(raw), what, statementKeys)
	if err != nil {
		return Statement{}, err
	}
	var st Statement
	if v, ok := el["Sid"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &st.Sid); err != nil {
			return Statement{}, fmt.Errorf("%s: Sid must be a string", what)
		}
	}
	var effect string
	if v, ok := el["Effect"]; !ok || json.Unmarshal(v, &effect) != nil {
		return Statement{}, fmt.Errorf("%s: Effect must be the string \"Allow\" or \"Deny\"", what)
	}
	switch Effect(effect) {
	case Allow, Deny:
		st.Effect = Effect(effect)
	default:
		return Statement{}, fmt.Errorf("%s: Effect %q is neither \"Allow\" nor \"Deny\"", what, effect)
	}
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"Action", &st.Action}, {"NotAction", &st.NotAction}, {"Resource", &st.Resource}, {"NotResource", &st.NotResource}} {
		if *f.dst, err = stringOrList(f.name, el[f.name]); err != nil {
			return Statement{}, fmt.Errorf("%s: %w", what, err)
		}
	}
	switch {
	case st.Action == nil && st.NotAction == nil:
		return Statement{}, fmt.Errorf("%s: has neither Action nor NotAction", what)
	case st.Action != nil && st.NotAction != nil:
		return Statement{}, fmt.Errorf("%s: has both Action and NotAction (IAM rejects the pair)", what)
	case st.Resource != nil && st.NotResource != nil:
		return Statement{}, fmt.Errorf("%s: has both Resource and NotResource (IAM rejects the pair)", what)
	}
	if st.HasCondition, err = narrows(el["Condition"]); err != nil {
		return Statement{}, fmt.Errorf("%s: %w", what, err)
	}
	st.Principal, st.NotPrincipal = el["Principal"], el["NotPrincipal"]
	return st, nil
}

// narrows reports whether a Condition element can narrow a statement: an
// absent, empty ({}) or operator-only ({"StringEquals":{}}) condition
// tests nothing.
func narrows(raw json.RawMessage) (bool, error) {
	if len(raw) == 0 || isNull(raw) {
		return false, nil
	}
	var cond map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cond); err != nil {
		return false, errors.New("Condition must be an object")
	}
	for op, keys := range cond {
		var tests map[string]json.RawMessage
		if err := json.Unmarshal(keys, &tests); err != nil {
			return false, fmt.Errorf("Condition operator %q must hold an object of condition keys", op)
		}
		if len(tests) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// stringOrList decodes an element that IAM allows as a string or an array of
// strings. A missing element is nil; a present one is never nil.
func stringOrList(name string, raw json.RawMessage) ([]string, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || isNull(trimmed) {
		return nil, nil
	}
	switch trimmed[0] {
	case '"':
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return []string{s}, nil
	case '[':
		var list []string
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("%s must be a string or an array of strings", name)
		}
		if list == nil {
			list = []string{}
		}
		return list, nil
	default:
		return nil, fmt.Errorf("%s must be a string or an array of strings", name)
	}
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func preview(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// describeJSONError adds the line and column to a syntax error's offset so a
// person can find the problem in a file.
func describeJSONError(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := LineCol(data, syn.Offset)
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	}
	return err
}

// LineCol converts a byte offset into 1-based line and column numbers.
func LineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, col = 1, 1
	for _, b := range data[:offset] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
