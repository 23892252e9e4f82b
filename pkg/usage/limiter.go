package usage

import (
	"context"
	"sync"
	"time"
)

// DefaultInterval spaces LookupEvents calls: CloudTrail allows 2 a second
// per account and region.
const DefaultInterval = 500 * time.Millisecond

// Limiter lets one call through per interval and region, for every
// function of a run together. Throttling that still happens (another
// reader of the same account) is retried by the SDK's adaptive retryer.
type Limiter struct {
	interval time.Duration
	mu       sync.Mutex
	next     map[string]time.Time
}

// NewLimiter spaces calls by interval.
func NewLimiter(interval time.Duration) *Limiter {
	return &Limiter{interval: interval, next: map[string]time.Time{}}
}

// Wait blocks until region's next call may go, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, region string) error {
	l.mu.Lock()
	now := time.Now()
	at := l.next[region]
	if at.Before(now) {
		at = now
	}
	l.next[region] = at.Add(l.interval)
	l.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
