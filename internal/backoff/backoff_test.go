package backoff

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestWait: the first retry does not wait, later ones wait at most their
// ceiling (with a margin for a loaded machine, never less than nothing),
// and an ended context ends the wait with its error.
func TestWait(t *testing.T) {
	ctx := context.Background()
	// 50 first retries: at once, so together well under a second even on
	// a loaded machine, where 50 waits drawn as a later attempt's (up to
	// Max each) would add up to 2.5 s on average.
	start := time.Now()
	for range 50 {
		if err := Wait(ctx, 1); err != nil {
			t.Fatalf("Wait(1) = %v, want nil", err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("50 calls of Wait(1) took %v, want nil at once", d)
	}
	for n, ceil := range map[int]time.Duration{2: Base, 4: 4 * Base, 30: Max} {
		var total time.Duration
		for range 20 {
			start := time.Now()
			if err := Wait(ctx, n); err != nil {
				t.Fatalf("Wait(%d) = %v", n, err)
			}
			d := time.Since(start)
			if d > ceil+time.Second {
				t.Errorf("Wait(%d) took %v, want at most about %v", n, d, ceil)
			}
			total += d
		}
		// 20 waits drawn evenly from (0, ceil] add up to 10 ceilings on
		// average; under 2 happens about once in 10^12 runs.
		if total < 2*ceil {
			t.Errorf("20 calls of Wait(%d) waited %v in all, want about %v: no backoff", n, total, 10*ceil)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, n := range []int{1, 2, 30} {
		if err := Wait(cancelled, n); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait(%d) on a cancelled context = %v, want context.Canceled", n, err)
		}
	}
}

// TestAfterConflicts: the conflicts wrap the error only when they came
// first and ctx's end is the error.
func TestAfterConflicts(t *testing.T) {
	errConflict := errors.New("conflict")
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	other := errors.New("disk full")
	for _, c := range []struct {
		name         string
		ctx          context.Context
		conflicts    int
		err          error
		wantConflict bool
	}{
		{"ctx ended after conflicts", ended, 2, fmt.Errorf("load: %w", ended.Err()), true},
		{"ctx ended, no conflict yet", ended, 0, ended.Err(), false},
		{"another error after conflicts, ctx ended", ended, 2, other, false},
		{"another error after conflicts, ctx running", context.Background(), 2, other, false},
	} {
		got := AfterConflicts(c.ctx, errConflict, c.conflicts, c.err)
		if !errors.Is(got, c.err) || errors.Is(got, errConflict) != c.wantConflict {
			t.Errorf("%s: AfterConflicts = %v; want it to wrap %v, and the conflict: %v", c.name, got, c.err, c.wantConflict)
		}
	}
	// An error that says so already (a nested retry loop's) is left as
	// it is, not wrapped a second time.
	inner := AfterConflicts(ended, errConflict, 2, fmt.Errorf("load: %w", ended.Err()))
	if got := AfterConflicts(ended, errConflict, 3, inner); got != inner {
		t.Errorf("AfterConflicts of an error wrapping the conflict already = %v, want it unchanged: %v", got, inner)
	}
}

// endedCtx is a context whose Done channel a select has not seen closed
// yet while Err already reports its end after errAfter calls: the state
// that select's random choice among ready cases exposes when the timer
// fires as ctx ends (or, on a loaded machine, before Wait's select runs).
type endedCtx struct {
	context.Context
	calls, errAfter int
}

func (c *endedCtx) Err() error {
	c.calls++
	if c.calls > c.errAfter {
		return context.Canceled
	}
	return nil
}

// TestWaitReportsAnEndedContext: Wait returns nil only when ctx was still
// running after the whole wait, whichever way select went.
func TestWaitReportsAnEndedContext(t *testing.T) {
	for _, n := range []int{1, 2, 30} {
		// Ended before Wait: reported, never a nil that starts another
		// attempt.
		c := &endedCtx{Context: context.Background()}
		if err := Wait(c, n); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait(%d) on a context ended before the call = %v, want context.Canceled", n, err)
		}
	}
	for _, n := range []int{2, 4} {
		// Ended while the timer ran, the timer's case chosen.
		c := &endedCtx{Context: context.Background(), errAfter: 1}
		if err := Wait(c, n); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait(%d) on a context that ended during the wait = %v, want context.Canceled", n, err)
		}
	}
}
