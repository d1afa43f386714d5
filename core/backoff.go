package core

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff between compare-and-swap attempts that lost against another
// process: full jitter, exponential from backoffBase up to backoffMax.
const (
	backoffBase = time.Millisecond
	backoffMax  = 100 * time.Millisecond
)

// backoff waits before attempt n (n >= 1 after the first conflict) or
// until ctx is done. The first retry after a conflict is immediate: the
// rebase already took a round trip.
func backoff(ctx context.Context, n int) error {
	if n <= 1 {
		return ctx.Err()
	}
	ceil := backoffMax
	if n-2 < 16 {
		ceil = min(backoffMax, backoffBase<<(n-2))
	}
	t := time.NewTimer(rand.N(ceil) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
