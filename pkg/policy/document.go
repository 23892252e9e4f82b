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
	Sid          string
	Effect       Effect
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	HasCondition bool
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

// rawDocument mirrors the JSON grammar; elements that may take several
// shapes stay raw until we know which one we have.
type rawDocument struct {
	Version   json.RawMessage `json:"Version"`
	Statement json.RawMessage `json:"Statement"`
}

type rawStatement struct {
	Sid         json.RawMessage `json:"Sid"`
	Effect      json.RawMessage `json:"Effect"`
	Action      json.RawMessage `json:"Action"`
	NotAction   json.RawMessage `json:"NotAction"`
	Resource    json.RawMessage `json:"Resource"`
	NotResource json.RawMessage `json:"NotResource"`
	Condition   json.RawMessage `json:"Condition"`
}

func parseJSON(data []byte) (*Document, error) {
	var rd rawDocument
	if err := json.Unmarshal(data, &rd); err != nil {
		return nil, fmt.Errorf("policy document is not valid JSON: %w", describeJSONError(data, err))
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
		st, err := parseStatement(rs)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
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

func parseStatement(raw json.RawMessage) (Statement, error) {
	var rs rawStatement
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Statement{}, errors.New("must be a JSON object")
	}
	if err := json.Unmarshal(trimmed, &rs); err != nil {
		return Statement{}, err
	}
	var st Statement
	if len(rs.Sid) > 0 && !isNull(rs.Sid) {
		if err := json.Unmarshal(rs.Sid, &st.Sid); err != nil {
			return Statement{}, errors.New("Sid must be a string")
		}
	}
	var effect string
	if len(rs.Effect) == 0 || json.Unmarshal(rs.Effect, &effect) != nil {
		return Statement{}, errors.New("Effect must be the string \"Allow\" or \"Deny\"")
	}
	switch Effect(effect) {
	case Allow, Deny:
		st.Effect = Effect(effect)
	default:
		return Statement{}, fmt.Errorf("Effect %q is neither \"Allow\" nor \"Deny\"", effect)
	}
	var err error
	if st.Action, err = stringOrList("Action", rs.Action); err != nil {
		return Statement{}, err
	}
	if st.NotAction, err = stringOrList("NotAction", rs.NotAction); err != nil {
		return Statement{}, err
	}
	if st.Resource, err = stringOrList("Resource", rs.Resource); err != nil {
		return Statement{}, err
	}
	if st.NotResource, err = stringOrList("NotResource", rs.NotResource); err != nil {
		return Statement{}, err
	}
	if st.Action == nil && st.NotAction == nil {
		return Statement{}, errors.New("has neither Action nor NotAction")
	}
	if len(rs.Condition) > 0 && !isNull(rs.Condition) {
		var cond map[string]json.RawMessage
		if err := json.Unmarshal(rs.Condition, &cond); err != nil {
			return Statement{}, errors.New("Condition must be an object")
		}
		st.HasCondition = len(cond) > 0
	}
	return st, nil
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
