package conformance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/sessionkit/sessionkit/core"
)

// EventCounter is a core.Observer that counts every event, for tests. It
// also checks that every StoreCallFinished and SessionCommitted with
// store calls gets the context its StoreCallStarted or CommitStarted
// returned, exactly once. It is safe for concurrent use.
type EventCounter struct {
	mu       sync.Mutex
	counts   map[string]int
	open     map[*callMark]bool
	problems []string
}

// callMark identifies one started store call or commit in its context.
type callMark struct{ what string }

type markKey struct{}

var _ core.Observer = (*EventCounter)(nil)

func (c *EventCounter) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = make(map[string]int)
	}
	c.counts[name]++
}

func (c *EventCounter) start(ctx context.Context, what string) context.Context {
	m := &callMark{what: what}
	c.mu.Lock()
	if c.open == nil {
		c.open = make(map[*callMark]bool)
	}
	c.open[m] = true
	c.mu.Unlock()
	return context.WithValue(ctx, markKey{}, m)
}

func (c *EventCounter) finish(ctx context.Context, what string) {
	m, _ := ctx.Value(markKey{}).(*callMark)
	c.mu.Lock()
	defer c.mu.Unlock()
	if m == nil || m.what != what || !c.open[m] {
		c.problems = append(c.problems, what+" finished with a context its start did not return, or twice")
		return
	}
	delete(c.open, m)
}

// Counts returns the number of events of each name so far: "loaded/hit",
// "loaded/miss", "loaded/expired", "loaded/corrupt", "loaded/error",
// "created", "renewed", "destroyed", "gone", "conflict",
// "commit_started", "committed/<outcome>", "committed_error",
// "store/<op>", "store_error", "store_not_found" and "store_declined".
func (c *EventCounter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Reset forgets the counts so far.
func (c *EventCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = nil
}

// Problems returns the pairing violations seen so far, and store calls
// or commits started and not finished.
func (c *EventCounter) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := slices.Clone(c.problems)
	for m := range c.open {
		p = append(p, m.what+" started and never finished")
	}
	return p
}

// SessionLoaded implements core.Observer.
func (c *EventCounter) SessionLoaded(_ context.Context, o core.LoadOutcome) {
	c.add("loaded/" + o.String())
}

// SessionCreated implements core.Observer.
func (c *EventCounter) SessionCreated(context.Context) { c.add("created") }

// SessionRenewed implements core.Observer.
func (c *EventCounter) SessionRenewed(context.Context) { c.add("renewed") }

// SessionDestroyed implements core.Observer.
func (c *EventCounter) SessionDestroyed(context.Context) { c.add("destroyed") }

// SessionGone implements core.Observer.
func (c *EventCounter) SessionGone(context.Context) { c.add("gone") }

// ConflictRetried implements core.Observer.
func (c *EventCounter) ConflictRetried(_ context.Context, attempt int) {
	if attempt < 1 {
		c.mu.Lock()
		c.problems = append(c.problems, fmt.Sprintf("ConflictRetried(attempt %d), want attempt >= 1", attempt))
		c.mu.Unlock()
	}
	c.add("conflict")
}

// CommitStarted implements core.Observer.
func (c *EventCounter) CommitStarted(ctx context.Context) context.Context {
	c.add("commit_started")
	return c.start(ctx, "commit")
}

// SessionCommitted implements core.Observer.
func (c *EventCounter) SessionCommitted(ctx context.Context, e core.CommitEvent) {
	if m, ok := ctx.Value(markKey{}).(*callMark); ok && m.what == "commit" {
		c.finish(ctx, "commit")
	}
	c.add("committed/" + e.Outcome.String())
	if e.Err != nil {
		c.add("committed_error")
	}
}

// StoreCallStarted implements core.Observer.
func (c *EventCounter) StoreCallStarted(ctx context.Context, op core.StoreOp, store string) context.Context {
	if store == "" {
		c.mu.Lock()
		c.problems = append(c.problems, fmt.Sprintf("StoreCallStarted(%s) without a store name", op))
		c.mu.Unlock()
	}
	return c.start(ctx, "store call "+string(op))
}

// StoreCallFinished implements core.Observer.
func (c *EventCounter) StoreCallFinished(ctx context.Context, e core.StoreCallEvent) {
	c.finish(ctx, "store call "+string(e.Op))
	c.add("store/" + string(e.Op))
	if e.Err != nil && (e.NotFound || e.Declined) || e.Declined && (e.NotFound || e.Op != core.OpRenew) {
		c.mu.Lock()
		c.problems = append(c.problems, fmt.Sprintf("StoreCallFinished(%s): Err %v, NotFound %t, Declined %t: at most one, and Declined only for a renew", e.Op, e.Err != nil, e.NotFound, e.Declined))
		c.mu.Unlock()
	}
	switch {
	case e.Err != nil:
		c.add("store_error")
	case e.NotFound:
		c.add("store_not_found")
	case e.Declined:
		c.add("store_declined")
	}
}

// storeCallTotal sums the store/<op> counts.
func storeCallTotal(counts map[string]int) int {
	n := 0
	for k, v := range counts {
		if strings.HasPrefix(k, "store/") {
			n += v
		}
	}
	return n
}
