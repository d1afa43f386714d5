package core

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// waitTimeout is how long waitClosed waits: far beyond any deadline these
// tests set, so that only a broken timer or link runs it out.
const waitTimeout = 10 * time.Second

// waitClosed waits until ch is closed, and fails the test saying what did
// not end if that takes longer than waitTimeout, instead of hanging it.
func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("%s: not closed within %v", what, waitTimeout)
	}
}

func TestDeadlineCtx(t *testing.T) {
	t.Run("ErrWithoutDone", func(t *testing.T) {
		c := withDeadline(context.Background(), time.Now().Add(-time.Millisecond), false)
		defer c.release()
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err() past the deadline = %v, want DeadlineExceeded", err)
		}
		select {
		case <-c.Done():
		default:
			t.Error("Done() after Err() reported the deadline is not closed")
		}
	})
	t.Run("DoneAtDeadline", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Millisecond)
		c := withDeadline(context.Background(), deadline, false)
		defer c.release()
		// Only a reading taken before the deadline must be nil: a pause
		// of the machine may pass it meanwhile.
		if err := c.Err(); err != nil && time.Until(deadline) > 0 {
			t.Fatalf("Err() before the deadline = %v", err)
		}
		waitClosed(t, c.Done(), "Done of a context 5ms from its deadline (a missing timer)")
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err() after Done = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("ParentCancel", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := withDeadline(parent, time.Now().Add(time.Hour), false)
		d := withDeadline(parent, time.Now().Add(time.Hour), true)
		defer c.release()
		defer d.release()
		done := c.Done()
		cancel()
		waitClosed(t, done, "Done after the parent was cancelled")
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err() after the parent was cancelled = %v, want Canceled", err)
		}
		if err := d.Err(); err != nil {
			t.Errorf("detached: Err() after the parent was cancelled = %v, want nil", err)
		}
		if _, ok := d.Deadline(); !ok {
			t.Error("detached: no deadline")
		}
	})
	t.Run("Release", func(t *testing.T) {
		c := withDeadline(context.WithValue(context.Background(), ctxKeyTest{}, 1), time.Now().Add(time.Hour), false)
		if c.Value(ctxKeyTest{}) != 1 {
			t.Error("Value does not reach the parent")
		}
		done := c.Done()
		c.release()
		waitClosed(t, done, "Done after release")
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err() after release = %v, want Canceled", err)
		}
		var nilCtx *deadlineCtx
		nilCtx.release() // callCtx returns nil when the parent ends sooner
	})
}

// TestDeadlineCtxErrInCommit covers Err of a store call's context inside
// a commit's without Done (most stores only check Err): it reports the
// commit's release, and its own deadline, and a parent that can end
// sooner than the child is asked.
func TestDeadlineCtxErrInCommit(t *testing.T) {
	commit := withDeadline(context.Background(), time.Now().Add(time.Hour), true)
	call := withDeadline(commit, time.Now().Add(time.Minute), false)
	if err := call.Err(); err != nil {
		t.Fatalf("Err() = %v, want nil", err)
	}
	commit.release()
	if err := call.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err() after the commit's release = %v, want Canceled", err)
	}

	commit = withDeadline(context.Background(), time.Now().Add(time.Hour), true)
	defer commit.release()
	late := withDeadline(commit, time.Now().Add(-time.Millisecond), false)
	if err := late.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err() past the call's deadline = %v, want DeadlineExceeded", err)
	}

	short := withDeadline(context.Background(), time.Now().Add(-time.Millisecond), true)
	long := withDeadline(short, time.Now().Add(time.Hour), false)
	if err := long.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err() of a call whose commit's deadline has passed = %v, want DeadlineExceeded", err)
	}
}

// TestDeadlineCtxAdoption covers a store call's context inside a commit's:
// the child links to its detached parent without making the parent set up
// a timer, ends when the parent is released, and unlinks when released
// first.
func TestDeadlineCtxAdoption(t *testing.T) {
	t.Run("ParentRelease", func(t *testing.T) {
		p := withDeadline(context.Background(), time.Now().Add(time.Hour), true)
		c := withDeadline(p, time.Now().Add(time.Minute), false)
		defer c.release()
		done := c.Done()
		p.mu.Lock()
		pDone, kid := p.done, p.kid
		p.mu.Unlock()
		if pDone != nil || kid != c {
			t.Fatalf("after the child's Done: parent's Done set up %v, child linked %v; want not set up, linked", pDone != nil, kid == c)
		}
		p.release()
		waitClosed(t, done, "the child's Done after the parent's release (an unlinked child)")
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("child's Err() after the parent's release = %v, want Canceled", err)
		}
	})
	t.Run("ChildFirst", func(t *testing.T) {
		p := withDeadline(context.Background(), time.Now().Add(time.Hour), true)
		defer p.release()
		for range 5 {
			c := withDeadline(p, time.Now().Add(time.Minute), false)
			_ = c.Done()
			c.release()
		}
		p.mu.Lock()
		kid := p.kid
		p.mu.Unlock()
		if kid != nil {
			t.Error("parent keeps a released kid")
		}
	})
	t.Run("ChildDeadline", func(t *testing.T) {
		p := withDeadline(context.Background(), time.Now().Add(time.Hour), true)
		defer p.release()
		c := withDeadline(p, time.Now().Add(5*time.Millisecond), false)
		defer c.release()
		waitClosed(t, c.Done(), "the child's Done at its own deadline, 5ms away")
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err() = %v, want DeadlineExceeded", err)
		}
		if err := p.Err(); err != nil {
			t.Errorf("parent's Err() after the child's deadline = %v, want nil", err)
		}
	})
	t.Run("TwoKids", func(t *testing.T) {
		p := withDeadline(context.Background(), time.Now().Add(time.Hour), true)
		c1 := withDeadline(p, time.Now().Add(time.Minute), false)
		c2 := withDeadline(p, time.Now().Add(time.Minute), false)
		defer c1.release()
		defer c2.release()
		d1, d2 := c1.Done(), c2.Done() // the second one links through context.AfterFunc
		p.release()
		waitClosed(t, d1, "the first kid's Done after the parent's release")
		waitClosed(t, d2, "the second kid's Done after the parent's release (linked through context.AfterFunc)")
	})
	t.Run("NotDetachedParent", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		p := withDeadline(parent, time.Now().Add(time.Hour), false)
		defer p.release()
		c := withDeadline(p, time.Now().Add(time.Minute), false)
		defer c.release()
		done := c.Done()
		cancel()
		waitClosed(t, done, "the child's Done after the grandparent was cancelled (a parent that cannot see its own parent end)")
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err() after the grandparent was cancelled = %v, want Canceled", err)
		}
	})
	t.Run("Allocations", func(t *testing.T) {
		p := withDeadline(context.Background(), time.Now().Add(time.Hour), true)
		defer p.release()
		n := testing.AllocsPerRun(100, func() {
			c := withDeadline(p, time.Now().Add(time.Minute), false)
			_ = c.Done()
			c.release()
		})
		if n > 5 {
			t.Errorf("a store call's context whose Done is asked for: %.0f allocations, want at most 5 (itself, channel, timer and its func)", n)
		}
	})
}

type ctxKeyTest struct{}

// TestDeadlineTimerRecycled: the timers Done arms are recycled, and a
// recycled timer ends only the context it is armed for, at that
// context's deadline; Done costs the channel and nothing else.
func TestDeadlineTimerRecycled(t *testing.T) {
	// A context whose timer fired: its timer is not reused.
	c1 := withDeadline(context.Background(), time.Now().Add(10*time.Millisecond), false)
	waitClosed(t, c1.Done(), "Done of a context 10ms from its deadline")
	c1.release()
	if err := c1.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err() after the deadline = %v, want DeadlineExceeded", err)
	}
	// Contexts released before their deadline hand their timers on.
	for i := 0; i < 100; i++ {
		c := withDeadline(context.Background(), time.Now().Add(time.Hour), false)
		c.Done()
		c.release()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err() after release = %v, want Canceled", err)
		}
	}
	long := withDeadline(context.Background(), time.Now().Add(time.Hour), false)
	defer long.release()
	long.Done()
	short := withDeadline(context.Background(), time.Now().Add(20*time.Millisecond), false)
	defer short.release()
	select {
	case <-short.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a context with a recycled timer did not end at its deadline")
	}
	time.Sleep(30 * time.Millisecond)
	if err := long.Err(); err != nil {
		t.Errorf("a context an hour from its deadline ended with %v after another's deadline passed", err)
	}
	// Warm the pool, then count: the context and its Done channel. A
	// garbage collection during the count empties the pool (and the race
	// detector drops some of what is put in it): the least of three
	// counts is checked.
	parent := context.Background()
	allocs := math.Inf(1)
	for range 3 {
		allocs = min(allocs, testing.AllocsPerRun(100, func() {
			c := withDeadline(parent, time.Now().Add(time.Hour), false)
			c.Done()
			c.release()
		}))
	}
	if allocs > 2 {
		t.Errorf("withDeadline, Done and release: %v allocations, want at most 2 (the context and its channel)", allocs)
	}
}

// BenchmarkDeadlineCtxErr is the check most stores make before each call:
// a store call's context (a child of a commit's) asked for Err.
func BenchmarkDeadlineCtxErr(b *testing.B) {
	commit := withDeadline(context.Background(), time.Now().Add(time.Hour), true)
	call := withDeadline(commit, time.Now().Add(time.Minute), false)
	b.ReportAllocs()
	for b.Loop() {
		if err := call.Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCommitCtxSpareUsedOnce: a commit's first store call gets the context
// allocated with the commit's, every later call one of its own, so that a
// store keeping a context past its call never sees it serve another.
func TestCommitCtxSpareUsedOnce(t *testing.T) {
	m := &Manager{cfg: Config{StoreTimeout: time.Minute}}
	commit := newCommitCtx(context.Background(), time.Now().Add(time.Hour))
	defer commit.release()
	spare := commit.spare
	first, dl1 := m.callCtx(commit)
	if spare == nil || dl1 != spare || first != context.Context(spare) {
		t.Fatalf("first call's context %p, want the commit's spare %p", dl1, spare)
	}
	dl1.release()
	second, dl2 := m.callCtx(commit)
	defer dl2.release()
	if dl2 == nil || dl2 == spare {
		t.Fatal("second call reused the first call's context")
	}
	if err := first.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("first call's context after its release = %v, want Canceled", err)
	}
	if err := second.Err(); err != nil {
		t.Errorf("second call's context = %v, want nil", err)
	}
}
