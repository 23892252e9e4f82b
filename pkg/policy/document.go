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
	"strconv"
	"strings"
	"sync"
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
// rejects duplicates; Go's struct decoding matches them in any case and
// keeps the last duplicate. So the keys of each object are first read as
// written (checkKeys), and only then is the object decoded.
var (
	documentKeys  = map[string]bool{"Version": true, "Id": true, "Statement": true}
	statementKeys = map[string]bool{"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true,
		"Action": true, "NotAction": true, "Resource": true, "NotResource": true, "Condition": true}
)

// rawDocument and rawStatement mirror the JSON grammar; elements that may
// take several shapes stay raw until we know which one we have.
type rawDocument struct {
	Version   json.RawMessage `json:"Version"`
	Statement json.RawMessage `json:"Statement"`
}

type rawStatement struct {
	Sid          json.RawMessage `json:"Sid"`
	Effect       json.RawMessage `json:"Effect"`
	Principal    json.RawMessage `json:"Principal"`
	NotPrincipal json.RawMessage `json:"NotPrincipal"`
	Action       json.RawMessage `json:"Action"`
	NotAction    json.RawMessage `json:"NotAction"`
	Resource     json.RawMessage `json:"Resource"`
	NotResource  json.RawMessage `json:"NotResource"`
	Condition    json.RawMessage `json:"Condition"`
}

// checkKeys reads the keys of a valid JSON object as written and rejects
// one IAM would not accept: unknown, in the wrong case, or repeated. what
// names the object in errors ("policy document", "statement 2").
func checkKeys(obj []byte, what string, allowed map[string]bool) error {
	seen := make(map[string]bool, len(allowed))
	var bad error
	forEachKey(obj, func(key string) bool {
		switch {
		case !allowed[key]:
			bad = fmt.Errorf("%s: key %q is not an IAM policy element%s", what, key, suggestKey(key, allowed))
		case seen[key]:
			bad = fmt.Errorf("%s: key %q appears twice (IAM rejects duplicate keys)", what, key)
		}
		seen[key] = true
		return bad == nil
	})
	return bad
}

// forEachKey calls fn with each top-level key of a valid JSON object, in
// order, until fn returns false. It scans the bytes once: keys are the
// strings at depth one that follow '{' or ','.
func forEachKey(obj []byte, fn func(string) bool) {
	depth, expectKey := 0, false
	for i := 0; i < len(obj); i++ {
		switch c := obj[i]; c {
		case '{', '[':
			depth++
			expectKey = depth == 1 && c == '{'
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case '"':
			end := stringEnd(obj, i)
			if expectKey && depth == 1 {
				key := string(obj[i+1 : end])
				if strings.IndexByte(key, '\\') >= 0 {
					_ = json.Unmarshal(obj[i:end+1], &key) // valid JSON: the escapes decode
				}
				if !fn(key) {
					return
				}
			}
			expectKey = false
			i = end
		}
	}
}

// stringEnd returns the index of the quote that closes the string opened
// at obj[start].
func stringEnd(obj []byte, start int) int {
	for i := start + 1; i < len(obj); i++ {
		switch obj[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(obj) - 1
}

func parseJSON(data []byte) (*Document, error) {
	var rd rawDocument
	if err := json.Unmarshal(data, &rd); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("policy document is not valid JSON: %w", describeJSONError(data, err))
		}
		return nil, fmt.Errorf("policy document: must be a JSON object (%v)", err)
	}
	if err := checkKeys(data, "policy document", documentKeys); err != nil {
		return nil, err
	}
	doc := &Document{}
	if len(rd.Version) > 0 {
		if err := json.Unmarshal(rd.Version, &doc.Version); err != nil {
			return nil, errors.New("policy document Version must be a string")
		}
	}
	stmts, err := splitStatements(rd.Statement)
	if err != nil {
		return nil, err
	}
	doc.Statement = make([]Statement, 0, len(stmts))
	for i, rs := range stmts {
		st, err := parseStatement(rs, "statement "+strconv.Itoa(i))
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
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Statement{}, fmt.Errorf("%s: must be a JSON object", what)
	}
	if err := checkKeys(trimmed, what, statementKeys); err != nil {
		return Statement{}, err
	}
	var rs rawStatement
	if err := json.Unmarshal(trimmed, &rs); err != nil {
		return Statement{}, fmt.Errorf("%s: %w", what, err)
	}
	var st Statement
	if len(rs.Sid) > 0 && !isNull(rs.Sid) {
		if err := json.Unmarshal(rs.Sid, &st.Sid); err != nil {
			return Statement{}, fmt.Errorf("%s: Sid must be a string", what)
		}
	}
	var effect string
	if len(rs.Effect) == 0 || json.Unmarshal(rs.Effect, &effect) != nil {
		return Statement{}, fmt.Errorf("%s: Effect must be the string \"Allow\" or \"Deny\"", what)
	}
	switch Effect(effect) {
	case Allow, Deny:
		st.Effect = Effect(effect)
	default:
		return Statement{}, fmt.Errorf("%s: Effect %q is neither \"Allow\" nor \"Deny\"", what, effect)
	}
	var err error
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *[]string
	}{{"Action", rs.Action, &st.Action}, {"NotAction", rs.NotAction, &st.NotAction}, {"Resource", rs.Resource, &st.Resource}, {"NotResource", rs.NotResource, &st.NotResource}} {
		if *f.dst, err = stringOrList(f.name, f.raw); err != nil {
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
	if st.HasCondition, err = narrows(rs.Condition); err != nil {
		return Statement{}, fmt.Errorf("%s: %w", what, err)
	}
	st.Principal, st.NotPrincipal = rs.Principal, rs.NotPrincipal
	return st, nil
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

// Parsed remembers documents parsed during one audit, by their text: the
// rules and the escalation search read the same documents, and parsing
// is most of their work. Safe for concurrent use; a nil *Parsed parses
// every time.
type Parsed struct{ m sync.Map }

type parsedDoc struct {
	doc *Document
	err error
}

// JSON is ParseJSON, once per distinct document.
func (c *Parsed) JSON(raw json.RawMessage) (*Document, error) {
	if c == nil {
		return ParseJSON(raw)
	}
	if v, ok := c.m.Load(string(raw)); ok {
		p := v.(parsedDoc)
		return p.doc, p.err
	}
	doc, err := ParseJSON(raw)
	c.m.Store(string(raw), parsedDoc{doc, err})
	return doc, err
}
