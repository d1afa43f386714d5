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
	timer  *time.Timer
	stop   func() bool // stops the context.AfterFunc on the parent
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
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	if !c.detached && c.parent.Done() != nil {
		c.stop = context.AfterFunc(c.parent, func() { c.end(c.parent.Err()) })
	}
	return c.done
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
		if err := c.parent.Err(); err != nil {
			c.err = err
			return err
		}
	}
	if !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
	}
	return c.err
}

// end records err as the reason c ended and closes Done.
func (c *deadlineCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	if c.done != nil && !c.closed {
		c.closed = true
		close(c.done)
	}
}

// release ends c and releases its timer and parent link. A nil c is
// fine: callCtx returns none when the parent ends soon enough.
func (c *deadlineCtx) release() {
	if c == nil {
		return
	}
	c.mu.Lock()
	t, stop := c.timer, c.stop
	c.timer, c.stop = nil, nil
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	if stop != nil {
		stop()
	}
	c.end(context.Canceled)
}
