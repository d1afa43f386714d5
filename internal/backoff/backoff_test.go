package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWait: the first retry does not wait, later ones wait at most their
// ceiling (with a margin for a loaded machine, never less than nothing),
// and an ended context ends the wait with its error.
func TestWait(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	if err := Wait(ctx, 1); err != nil || time.Since(start) > 50*time.Millisecond {
		t.Errorf("Wait(1) = %v after %v, want nil at once", err, time.Since(start))
	}
	for n, ceil := range map[int]time.Duration{2: Base, 4: 4 * Base, 30: Max} {
		for range 20 {
			start := time.Now()
			if err := Wait(ctx, n); err != nil {
				t.Fatalf("Wait(%d) = %v", n, err)
			}
			if d := time.Since(start); d > ceil+time.Second {
				t.Errorf("Wait(%d) took %v, want at most about %v", n, d, ceil)
			}
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
