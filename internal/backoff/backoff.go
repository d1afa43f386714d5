// Package backoff is the wait between compare-and-swap attempts that lost
// against a concurrent writer, shared by the core's commits and the
// cookie store's revocation list: full jitter, exponential from Base up
// to Max.
package backoff

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Base and Max bound the jittered wait: attempt n waits up to
// min(Max, Base<<(n-2)).
const (
	Base = time.Millisecond
	Max  = 100 * time.Millisecond
)

// Wait waits before attempt n (n >= 1 after the first conflict) or until
// ctx is done, and returns ctx's error if it ended first. The first retry
// after a conflict is immediate: the reload it needs already took a round
// trip. A ctx that has ended already ends Wait at once, and one that ends
// as the timer fires is reported too: Wait returns nil only when ctx was
// still running after the whole wait.
func Wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil || n <= 1 {
		return err
	}
	ceil := Max
	if n-2 < 16 {
		ceil = min(Max, Base<<(n-2))
	}
	t := time.NewTimer(rand.N(ceil) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		// select picks at random among ready cases: when ctx ended too,
		// say so rather than let the caller start another attempt.
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AfterConflicts is the error of a compare-and-swap retry loop whose
// attempt failed with err after conflicts attempts had lost to concurrent
// writers. When err is ctx ending (in the backoff, the reload or the next
// compare-and-swap), those conflicts are what kept the loop from its
// write, and the error wraps conflict (the caller's core.ErrConflict) as
// well as err; otherwise it is err, as it is when it wraps conflict
// already (the error of a nested retry loop).
func AfterConflicts(ctx context.Context, conflict error, conflicts int, err error) error {
	if conflicts == 0 || ctx.Err() == nil || !errors.Is(err, ctx.Err()) || errors.Is(err, conflict) {
		return err
	}
	return fmt.Errorf("%w (%d attempts lost to concurrent writers): %w", conflict, conflicts, err)
}
