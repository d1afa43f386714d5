package core

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is a context with a deadline, for the core's store calls,
// that costs one allocation where context.WithTimeout costs several: its
// timer and its link to the parent are set up only when a store asks for
// Done, and most stores only check Err. With detached set it ignores the
// parent's cancellation and deadline (as context.WithoutCancel would) and
// uses the parent only for values.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time
	detached bool

	mu     sync.Mutex
	err    error
	done   chan struct{} // made by the first Done
	closed bool
	timer  *deadlineTimer // armed by the first Done; see deadlineTimer
	stop   func() bool    // stops the context.AfterFunc on the parent

	// A child whose parent is a detached deadlineCtx ending no earlier
	// than the child (a store call inside a commit) is linked to it here
	// instead of by context.AfterFunc, which would make the parent set up
	// its own timer too: the parent ends its kids when it ends.
	owner *deadlineCtx // the parent that adopted c
	kid   *deadlineCtx // the child c ends with itself (store calls take turns)

	// spare is where c's first child is made, when c was allocated
	// with it (see commitCtxs); nil once taken. Each is used once, never
	// reused: a store that kept a context past its call sees it ended.
	spare *deadlineCtx
}

// commitCtxs holds a commit's context and its first store call's in one
// allocation.
type commitCtxs struct {
	commit, call deadlineCtx
}

// newCommitCtx returns a detached context that ends at deadline, with
// room for its first store call's context.
func newCommitCtx(parent context.Context, deadline time.Time) *deadlineCtx {
	p := &commitCtxs{commit: deadlineCtx{parent: parent, deadline: deadline, detached: true}}
	p.commit.spare = &p.call
	return &p.commit
}

// takeSpare returns c's spare child context, unused, or nil when c has
// none (left).
func (c *deadlineCtx) takeSpare() *deadlineCtx {
	c.mu.Lock()
	defer c.mu.Unlock()
	kid := c.spare
	c.spare = nil
	return kid
}

// withDeadline returns a context that ends at deadline, when parent ends
// (unless detached), or when it is released.
func withDeadline(parent context.Context, deadline time.Time, detached bool) *deadlineCtx {
	return &deadlineCtx{parent: parent, deadline: deadline, detached: detached}
}

// Deadline implements context.Context.
func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Value implements context.Context.
func (c *deadlineCtx) Value(key any) any { return c.parent.Value(key) }

// Done implements context.Context.
func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.errLocked() != nil {
		c.closed = true
		close(c.done)
		return c.done
	}
	c.timer = armDeadline(c)
	if !c.detached {
		if p, ok := c.parent.(*deadlineCtx); ok && p.adopt(c) {
			c.owner = p
		} else if c.parent.Done() != nil {
			c.stop = context.AfterFunc(c.parent, func() { c.end(c.parent.Err()) })
		}
	}
	return c.done
}

// adopt links kid to c, so that c ends kid when it ends, if c can end only
// by its deadline, which is not before kid's (kid's own timer comes
// first), or by end: c is detached and has not set up Done; and if c has
// no other kid linked. It reports whether it did. kid.mu is held (the
// lock order is kid, then parent).
func (c *deadlineCtx) adopt(kid *deadlineCtx) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kid != nil || !c.detached || c.done != nil || c.errLocked() != nil || c.deadline.Before(kid.deadline) {
		return false
	}
	c.kid = kid
	return true
}

// disown unlinks kid, released before c ended.
func (c *deadlineCtx) disown(kid *deadlineCtx) {
	c.mu.Lock()
	if c.kid == kid {
		c.kid = nil
	}
	c.mu.Unlock()
}

// Err implements context.Context.
func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errLocked()
}

// errLocked returns why c ended, or nil. Until Done was asked for, the
// deadline and the parent are checked here. c.mu is held.
func (c *deadlineCtx) errLocked() error {
	if c.err != nil || c.done != nil {
		return c.err // with Done out, the timer and AfterFunc set err
	}
	if !c.detached {
		var err error
		if p, ok := c.parent.(*deadlineCtx); ok && p.detached && !p.deadline.Before(c.deadline) {
			// A store call inside a commit: the commit can end only by
			// its deadline, which is not before c's (checked below), or
			// by end, which sets its err. No clock reading is needed for
			// it (the lock order is kid, then parent).
			p.mu.Lock()
			err = p.err
			p.mu.Unlock()
		} else {
			err = c.parent.Err()
		}
		if err != nil {
			c.err = err
			return err
		}
	}
	// time.Until reads only the monotonic clock (the deadline has a
	// monotonic reading): half the cost of time.Now, which Err pays on
	// every store call.
	if time.Until(c.deadline) <= 0 {
		c.err = context.DeadlineExceeded
	}
	return c.err
}

// end records err as the reason c ended, closes Done and ends c's kids.
func (c *deadlineCtx) end(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	if c.done != nil && !c.closed {
		c.closed = true
		close(c.done)
	}
	kid := c.kid
	c.kid = nil
	err = c.err
	c.mu.Unlock()
	if kid != nil {
		kid.end(err)
	}
}

// release ends c and releases its timer and parent link. A nil c is
// fine: callCtx returns none when the parent ends soon enough.
func (c *deadlineCtx) release() {
	if c == nil {
		return
	}
	c.mu.Lock()
	t, stop, owner := c.timer, c.stop, c.owner
	c.timer, c.stop, c.owner = nil, nil, nil
	c.mu.Unlock()
	if t != nil {
		t.disarm()
	}
	if stop != nil {
		stop()
	}
	if owner != nil {
		owner.disown(c)
	}
	c.end(context.Canceled)
}

// deadlineTimer ends the deadlineCtx it is armed for when that one's
// deadline passes. Done asks for one on every store call whose store
// watches the context (go-redis checks Done before each command, pgx
// waits on it), and a fresh time.AfterFunc would allocate a timer and a
// closure each time: these are recycled instead, with the timer stopped
// and re-armed by Reset. A timer whose function may already be running
// when it is disarmed is never reused, so it can end no other context.
type deadlineTimer struct {
	t  *time.Timer
	mu sync.Mutex
	c  *deadlineCtx // the context it ends; nil when disarmed
}

var deadlineTimers = sync.Pool{New: func() any {
	dt := new(deadlineTimer)
	dt.t = time.AfterFunc(time.Hour, dt.fire)
	dt.t.Stop()
	return dt
}}

// armDeadline returns a timer that ends c at its deadline.
func armDeadline(c *deadlineCtx) *deadlineTimer {
	dt := deadlineTimers.Get().(*deadlineTimer)
	dt.mu.Lock()
	dt.c = c
	dt.mu.Unlock()
	dt.t.Reset(time.Until(c.deadline))
	return dt
}

// fire is the timer's function.
func (dt *deadlineTimer) fire() {
	dt.mu.Lock()
	c := dt.c
	dt.c = nil
	dt.mu.Unlock()
	if c != nil {
		c.end(context.DeadlineExceeded)
	}
}

// disarm stops dt so that it ends nothing any more, and recycles it when
// its function is sure not to run (Stop reports that it stopped the timer
// before it fired).
func (dt *deadlineTimer) disarm() {
	stopped := dt.t.Stop()
	dt.mu.Lock()
	dt.c = nil
	dt.mu.Unlock()
	if stopped {
		deadlineTimers.Put(dt)
	}
}
