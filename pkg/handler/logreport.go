package handler

import (
	"encoding/json"
	"log/slog"

	"lambda-role-audit/pkg/audit"
)

// maxLogRecordBytes keeps each log record well under CloudWatch Logs' 256 KB
// event limit, so a large report is logged whole, in parts, never cut.
const maxLogRecordBytes = 200 << 10

// logReport writes the whole report: a header record (everything but the
// findings), then the findings in parts that each fit one log event.
func logReport(log *slog.Logger, rep *audit.Report) {
	header := *rep
	header.Findings = nil
	parts := findingParts(rep.Findings, maxLogRecordBytes)
	log.Info("audit report", "report", header, "findingParts", len(parts))
	for i, part := range parts {
		log.Info("audit findings", "part", i+1, "of", len(parts), "findings", part)
	}
}

// findingParts groups findings into parts of at most limit bytes of JSON;
// a finding larger than that on its own (a role shared by thousands of
// functions) is split by its function list.
func findingParts(findings []audit.Finding, limit int) [][]audit.Finding {
	var parts [][]audit.Finding
	var cur []audit.Finding
	size := 0
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, cur)
			cur, size = nil, 0
		}
	}
	for _, f := range findings {
		n := jsonSize(f) + 1 // and its comma
		if n > limit {
			flush()
			for _, piece := range splitFunctions(f, limit) {
				parts = append(parts, []audit.Finding{piece})
			}
			continue
		}
		if size+n > limit {
			flush()
		}
		cur = append(cur, f)
		size += n
	}
	flush()
	return parts
}

func splitFunctions(f audit.Finding, limit int) []audit.Finding {
	base := f
	base.Functions = nil
	room := max(1, limit-jsonSize(base))
	var out []audit.Finding
	var fns []string
	used := 0
	for _, fn := range f.Functions {
		if used+len(fn)+3 > room && len(fns) > 0 {
			piece := base
			piece.Functions = fns
			out = append(out, piece)
			fns, used = nil, 0
		}
		fns = append(fns, fn)
		used += len(fn) + 3
	}
	piece := base
	piece.Functions = fns
	return append(out, piece)
}

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}
