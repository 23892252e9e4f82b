package policy

import (
	"encoding/json"
	"testing"
)

// FuzzParse feeds arbitrary bytes to every entry point: none may panic, and
// a document that parses must analyse without panicking either.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
		`%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D`,
		`{"Statement":[{"Effect":"Allow","NotAction":["iam:*"],"Resource":["*"],"Condition":{"a":{}}}]}`,
		`"{\"Statement\":[]}"`,
		`%257B`,
		`{"Statement":[{"Effect":"Allow","Action":[1],"Resource":null}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if doc, err := ParseString(string(data)); err == nil {
			Judge(Locate(doc, 0, "fuzz"), Subject{ARN: "arn:aws:iam::123456789012:role/r"})
		}
		if doc, err := ParseJSON(json.RawMessage(data)); err == nil {
			Judge(Locate(doc, 0, "fuzz"), Subject{ARN: "arn:aws:iam::123456789012:role/r"})
		}
		for _, a := range []string{"iam:PutRolePolicy", string(data)} {
			_ = MatchAction(string(data), a) // must not panic or hang
		}
	})
}
