package core_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// decliningRenewer is a store whose Renew always declines, as a Redis
// Cluster store without a hash tag does.
type decliningRenewer struct{ *memory.Store }

func (decliningRenewer) Renew(context.Context, core.Renewal) (uint64, error) {
	return 0, fmt.Errorf("test: renew: %w", core.ErrNotSupported)
}

// callObserver records each finished store call and its error.
type callObserver struct {
	core.NopObserver
	mu    sync.Mutex
	calls []string
}

func (o *callObserver) StoreCallFinished(_ context.Context, e core.StoreCallEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := string(e.Op)
	switch {
	case e.Err != nil:
		c += " (error)"
	case e.Declined:
		c += " (declined)"
	case e.NotFound:
		c += " (not found)"
	}
	o.calls = append(o.calls, c)
}

func (o *callObserver) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.calls
	o.calls = nil
	return c
}

// TestRenewDeclinedIsNoStoreError: a Renew declined with ErrNotSupported
// is observed as a declined store call without an error (the store
// changed nothing), followed by the two-step renew; the session moves.
func TestRenewDeclinedIsNoStoreError(t *testing.T) {
	mem := memory.New(memory.Config{})
	t.Cleanup(func() { _ = mem.Close() })
	obs := &callObserver{}
	h := newHarness(t, core.Config{Store: decliningRenewer{mem}, Observer: obs})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 3) })
	obs.take()
	renewed, _ := h.request(t, tok, func(s *core.Session) { s.Renew() })
	want := []string{"load", "renew (declined)", "compare_and_swap", "compare_and_swap"}
	if got := obs.take(); !slices.Equal(got, want) {
		t.Errorf("renew with a declining Renewer: observed store calls %q, want %q", got, want)
	}
	if renewed == tok || renewed == "" {
		t.Fatal("renew with a declining Renewer kept the old token")
	}
	h.request(t, renewed, func(s *core.Session) {
		if v, _ := s.Get("cart"); v != 3 {
			t.Errorf("after a two-step renew: cart = %v, want 3", v)
		}
	})
}

// TestTouchNotFoundIsNoStoreError: a Touch that finds the record gone
// (it ended between the load and the commit) is observed as NotFound,
// not as a store error, and the request still succeeds. (RenewGrace off:
// with it, a store that has CompareAndSwap refreshes with it, see
// TestInFlightReadDoesNotExtendRetiredToken.)
func TestTouchNotFoundIsNoStoreError(t *testing.T) {
	obs := &callObserver{}
	h := newHarness(t, core.Config{IdleTimeout: time.Hour, Observer: obs, RenewGrace: -1})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 3) })
	h.now = h.now.Add(30 * time.Minute) // the idle deadline is due for a refresh
	obs.take()
	s, hdr := h.begin(tok, "192.0.2.1:1234")
	if v, _ := s.Get("cart"); v != 3 {
		t.Fatalf("cart = %v, want 3", v)
	}
	if err := h.store.Delete(context.Background(), core.StoreKey(tok)); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Commit(s, hdr); err != nil {
		t.Fatalf("commit after the record vanished: %v", err)
	}
	h.m.Release(s)
	want := []string{"load", "touch (not found)"}
	if got := obs.take(); !slices.Equal(got, want) {
		t.Errorf("refresh of a vanished record: observed store calls %q, want %q", got, want)
	}
}
