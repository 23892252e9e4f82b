// Command lra-bench runs the scale benchmark (make bench): see package bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"lambda-role-audit/internal/awsfake"
	"lambda-role-audit/internal/bench"
)

func main() {
	binary := flag.String("binary", "bin/lambda-role-audit", "the lambda-role-audit binary to measure")
	sizes := flag.String("sizes", "100,1000,10000", "function counts to run")
	slowUpTo := flag.Int("compare-up-to", 1000, "run the per-role strategy and the seed procedure up to this many functions (they take minutes beyond)")
	latency := flag.Duration("latency", 50*time.Millisecond, "latency added to every call")
	repeat := flag.Int("repeat", 5, "runs of the shipped (bulk) audit per size; the row is the run of median wall time, since a shared machine's noise moves single runs by a tenth or more")
	flag.Parse()
	ctx := context.Background()

	var last bench.Result
	// A Markdown table, printed row by row as the runs finish.
	tw := os.Stdout
	fmt.Fprintln(tw, "| functions | regions | roles | strategy | wall_s | lower_bound_s | ratio | api_calls | throttled | peak_rss_mb | calls per operation |")
	fmt.Fprintln(tw, "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
	for _, field := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n <= 0 {
			fatal(fmt.Errorf("bad size %q", field))
		}
		s := bench.Settings{Functions: n, Regions: 17, Roles: n * 3 / 10, Policies: n / 10, Latency: *latency,
			Lambda: awsfake.Limits{Rate: 15, Burst: 30}, IAM: awsfake.Limits{Rate: 20, Burst: 40}}
		acct := bench.Account(s)

		// Reference: the same account with no latency and no throttling.
		clean := s
		clean.Latency, clean.Lambda, clean.IAM = 0, awsfake.Limits{}, awsfake.Limits{}
		ref, err := bench.RunBinary(ctx, *binary, acct, clean, "bulk")
		if err != nil {
			fatal(err)
		}

		strategies := []string{"bulk"}
		if n <= *slowUpTo {
			strategies = append(strategies, "per-role")
		}
		for _, strategy := range strategies {
			runs := 1
			if strategy == "bulk" {
				runs = max(1, *repeat)
			}
			var results []bench.Result
			for range runs {
				r, err := bench.RunBinary(ctx, *binary, acct, s, strategy)
				if err != nil {
					fatal(err)
				}
				if !reflect.DeepEqual(r.Findings, ref.Findings) {
					fatal(fmt.Errorf("%d functions, %s: findings differ from the unthrottled run (%d vs %d)", n, strategy, len(r.Findings), len(ref.Findings)))
				}
				results = append(results, r)
			}
			sort.Slice(results, func(i, j int) bool { return results[i].Wall < results[j].Wall })
			r := results[len(results)/2]
			row(tw, r)
			if runs > 1 {
				fmt.Fprintf(os.Stderr, "lra-bench: %d functions, %s: %d runs, ratio %.2f to %.2f, median %.2f\n", n, strategy, runs,
					results[0].Ratio(), results[len(results)-1].Ratio(), r.Ratio())
			}
			if strategy == "bulk" {
				last = r
			}
		}
		if n <= *slowUpTo {
			r, err := bench.RunSeedProcedure(ctx, acct, s)
			if err != nil {
				fatal(err)
			}
			row(tw, r)
		} else {
			est := bench.EstimateSeed(acct, s)
			fmt.Fprintf(tw, "| %d | %d | %d | seed procedure | >=%.0f (throttle floor, not run) | %.3f | >=%.0f | - | - | - | - |\n", n, s.Regions, s.Roles, est.Seconds(), bench.LowerBound(acct, s).Seconds(), est.Seconds()/bench.LowerBound(acct, s).Seconds())
		}
	}
	fmt.Printf("bench: functions=%d regions=%d roles=%d wall_s=%.3f lower_bound_s=%.3f ratio=%.2f api_calls=%d throttled=%d peak_rss_mb=%.1f\n",
		last.Functions, last.Regions, last.Roles, last.Wall.Seconds(), last.LowerBound.Seconds(), last.Ratio(), last.Total, last.Throttled, last.PeakRSSMB)
}

func row(tw io.Writer, r bench.Result) {
	ops := make([]string, 0, len(r.Calls))
	for op, n := range r.Calls {
		ops = append(ops, fmt.Sprintf("%s=%d", op, n))
	}
	sort.Strings(ops)
	rss := "-"
	if r.PeakRSSMB > 0 {
		rss = fmt.Sprintf("%.1f", r.PeakRSSMB)
	}
	fmt.Fprintf(tw, "| %d | %d | %d | %s | %.3f | %.3f | %.2f | %d | %d | %s | %s |\n", r.Functions, r.Regions, r.Roles, r.Strategy, r.Wall.Seconds(), r.LowerBound.Seconds(), r.Ratio(), r.Total, r.Throttled, rss, strings.Join(ops, " "))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "lra-bench:", err)
	os.Exit(1)
}
