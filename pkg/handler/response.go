package handler

import (
	"fmt"

	"lambda-role-audit/pkg/audit"
)

// maxResponseReportBytes keeps a dry run's response under Lambda's 6 MB
// limit for a synchronous invocation, with room for the summary around
// the report.
const maxResponseReportBytes = 5 << 20

// responseReport is the report a dry run returns: whole when it fits, else
// its header and the most severe findings that fit (findings are sorted
// by severity), with how many were left out. The full report is always in
// the log.
func responseReport(rep *audit.Report, limit int) (*audit.Report, int) {
	header := *rep
	header.Findings = []audit.Finding{}
	size := jsonSize(header)
	kept := 0
	for _, f := range rep.Findings {
		n := jsonSize(f) + 1 // and its comma
		if size+n > limit {
			break
		}
		size += n
		kept++
	}
	if kept == len(rep.Findings) {
		return rep, 0
	}
	header.Findings = rep.Findings[:kept]
	return &header, len(rep.Findings) - kept
}

// omittedNote says where the findings left out of a response are.
func omittedNote(omitted int, c Config) string {
	where := "in this function's log"
	if c.LogGroup != "" {
		where = fmt.Sprintf("in log group %s, stream %s", c.LogGroup, c.LogStream)
	}
	return fmt.Sprintf("%d findings (the least severe) are left out of this response to fit Lambda's 6 MB limit; the full report is logged %s", omitted, where)
}
