// Package janitor runs a store's periodic cleanup of expired records in
// the background, for the stores that offer one (memory, file, postgres).
package janitor

import (
	"context"
	"sync"
	"time"
)

// Janitor calls a sweep function on an interval until it is stopped. The
// zero value and a nil *Janitor are stopped janitors.
type Janitor struct {
	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

// Start calls sweep every interval in a goroutine of its own until Stop.
// sweep's context is cancelled by Stop; an error it returns while the
// janitor runs is passed to onError (when not nil), and the janitor goes
// on. A non-positive interval starts nothing and returns nil.
func Start(interval time.Duration, sweep func(ctx context.Context) error, onError func(ctx context.Context, err error)) *Janitor {
	if interval <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &Janitor{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ctx.Err() != nil {
					// Stop came while a tick was pending too: select picks
					// either at random, and a tick that lost to Stop starts
					// no sweep (a Stop landing after this check still finds
					// the sweep's context cancelled and waits for it).
					return
				}
				if err := sweep(ctx); err != nil && ctx.Err() == nil && onError != nil {
					onError(ctx, err)
				}
			}
		}
	}()
	return j
}

// Stop ends the janitor and waits for a sweep in progress to return. It is
// safe to call more than once, concurrently, and on a nil *Janitor.
func (j *Janitor) Stop() {
	if j == nil || j.cancel == nil {
		return
	}
	j.once.Do(j.cancel)
	<-j.done
}

// Running reports whether the janitor's goroutine has not exited yet.
func (j *Janitor) Running() bool {
	if j == nil || j.done == nil {
		return false
	}
	select {
	case <-j.done:
		return false
	default:
		return true
	}
}
