package janitor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSweepsUntilStopped(t *testing.T) {
	var n atomic.Int64
	swept := make(chan struct{}, 100)
	j := Start(time.Millisecond, func(context.Context) error {
		n.Add(1)
		// Never block: a starved test goroutine must not wedge the sweep
		// (and with it Stop) once the buffer is full.
		select {
		case swept <- struct{}{}:
		default:
		}
		return nil
	}, nil)
	for range 3 {
		select {
		case <-swept:
		case <-time.After(10 * time.Second):
			t.Fatal("the janitor did not sweep")
		}
	}
	j.Stop()
	after := n.Load()
	time.Sleep(20 * time.Millisecond)
	if got := n.Load(); got != after {
		t.Errorf("sweeps went on after Stop: %d, then %d", after, got)
	}
}

func TestStopIsIdempotentAndConcurrent(t *testing.T) {
	j := Start(time.Hour, func(context.Context) error { return nil }, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(j.Stop)
	}
	wg.Wait()
	j.Stop()
	var nilJ *Janitor
	nilJ.Stop()
	(&Janitor{}).Stop()
	if Start(0, nil, nil) != nil || Start(-time.Second, nil, nil) != nil {
		t.Error("a non-positive interval started a janitor")
	}
}

func TestErrorsReachOnErrorAndStopCancelsSweep(t *testing.T) {
	errSweep := errors.New("sweep failed")
	got := make(chan error, 100)
	inSweep := make(chan struct{})
	var first atomic.Bool
	j := Start(time.Millisecond, func(ctx context.Context) error {
		if first.CompareAndSwap(false, true) {
			return errSweep
		}
		close(inSweep)
		<-ctx.Done() // a slow sweep: Stop must cancel it
		return ctx.Err()
	}, func(_ context.Context, err error) { got <- err })
	select {
	case err := <-got:
		if !errors.Is(err, errSweep) {
			t.Fatalf("onError got %v, want the sweep's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("onError was not called")
	}
	<-inSweep
	j.Stop() // returns only once the slow sweep saw its context end
	select {
	case err := <-got:
		t.Errorf("onError called for the cancellation at Stop: %v", err)
	default:
	}
}

func TestRunning(t *testing.T) {
	j := Start(time.Hour, func(context.Context) error { return nil }, nil)
	if !j.Running() {
		t.Fatal("Running() = false for a started janitor")
	}
	j.Stop()
	if j.Running() {
		t.Fatal("Running() = true after Stop returned")
	}
	if (*Janitor)(nil).Running() {
		t.Fatal("Running() = true for a nil janitor")
	}
}
