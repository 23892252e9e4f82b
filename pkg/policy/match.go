package policy

import "strings"

// MatchAction reports whether an IAM action pattern (with the wildcards '*'
// for any run of characters and '?' for one character) matches a concrete
// action. IAM compares action names case-insensitively.
func MatchAction(pattern, action string) bool {
	return wildcardMatch(strings.ToLower(pattern), strings.ToLower(action))
}

// MatchResource reports whether an IAM resource pattern matches a concrete
// ARN, with the same wildcards. ARNs are compared case-sensitively.
func MatchResource(pattern, arn string) bool {
	return wildcardMatch(pattern, arn)
}

// wildcardMatch is the classic linear-time glob matcher with single-star
// backtracking; it cannot blow up on patterns like "a*a*a*a*b".
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
