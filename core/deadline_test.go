package core

import (
	"context"
	"errors"
	"testing"
	"time"
)

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
		c := withDeadline(context.Background(), time.Now().Add(5*time.Millisecond), false)
		defer c.release()
		if err := c.Err(); err != nil {
			t.Fatalf("Err() before the deadline = %v", err)
		}
		<-c.Done() // a missing timer hangs the test
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
		<-done
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
		<-done
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err() after release = %v, want Canceled", err)
		}
		var nilCtx *deadlineCtx
		nilCtx.release() // callCtx returns nil when the parent ends sooner
	})
}

type ctxKeyTest struct{}
