package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// countingStore is the 10-line wrapper of issue 14: it embeds the store
// to count calls, and so hides CompareAndSwap and Touch.
type countingStore struct {
	core.Store
	gate  *loadGate
	mu    sync.Mutex
	calls int
}

func (c *countingStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	rec, ok, err := c.Store.Load(ctx, key)
	c.gate.pass()
	return rec, ok, err
}

// loadGate holds the first n loads after it is armed until all n have
// loaded, so n requests deterministically read the same version before
// any of them writes: the interleaving that loses updates without
// compare-and-swap, forced instead of hoped for.
type loadGate struct {
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

// arm makes the next n loads wait for each other.
func (g *loadGate) arm(n int) {
	g.mu.Lock()
	g.waiting = n
	g.open = make(chan struct{})
	g.mu.Unlock()
}

// pass is called after a load; it returns at once when the gate is nil,
// not armed or already open.
func (g *loadGate) pass() {
	if g == nil {
		return
	}
	g.mu.Lock()
	if g.open == nil || g.waiting == 0 {
		g.mu.Unlock()
		return
	}
	g.waiting--
	open := g.open
	if g.waiting == 0 {
		close(open)
	}
	g.mu.Unlock()
	select {
	case <-open:
	case <-time.After(10 * time.Second): // a load that never comes must not hang the test
	}
}

// concurrentWrites stores one session, then has n requests, each through
// its own Manager (its own process), set a key of their own concurrently,
// and returns how many keys survived. The gate, when not nil, is armed
// for the n requests' first loads.
func concurrentWrites(t *testing.T, st core.Store, gate *loadGate, n int) int {
	t.Helper()
	newManager := func() *core.Manager {
		m, err := core.New(core.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := newManager()
	s := m.Begin(httptest.NewRequest(http.MethodGet, "/", nil))
	s.Set("seed", 1)
	h := make(http.Header)
	if err := m.Commit(s, h); err != nil {
		t.Fatal(err)
	}
	cookie := (&http.Response{Header: h}).Cookies()[0]
	if gate != nil {
		gate.arm(n)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := newManager()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(cookie)
			s := m.Begin(r)
			s.Set(fmt.Sprint("k", i), i)
			if err := m.Commit(s, make(http.Header)); err != nil {
				t.Error(err)
			}
			m.Release(s)
		})
	}
	wg.Wait()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookie)
	s = m.Begin(r)
	return len(s.Keys()) - 1
}

// TestNaiveWrapperLosesUpdates reproduces issue 14: a wrapper that
// embeds the store loses compare-and-swap, so concurrent updates are lost
// (New warns, once); the same wrapper written with core.WrapStore keeps
// every update under the same forced interleaving.
func TestNaiveWrapperLosesUpdates(t *testing.T) {
	const n = 51
	mem := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	gate := new(loadGate)
	got := concurrentWrites(t, &countingStore{Store: mem, gate: gate}, gate, n)
	// Every request read the seed alone and wrote it back with its own key:
	// the last writer wins, so exactly one key survives.
	if got != 1 {
		t.Errorf("naive wrapper: %d of %d concurrent updates survived, want 1 (last writer wins without compare-and-swap)", got, n)
	}

	mem = memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	gate = new(loadGate)
	var ops sync.Map
	wrapped := core.WrapStore(mem, core.StoreWrapper{
		Around: func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
			ops.Store(c.Op, true)
			err := next(ctx)
			if c.Op == core.OpLoad {
				gate.pass()
			}
			return err
		},
	})
	if got := concurrentWrites(t, wrapped, gate, n); got != n {
		t.Errorf("through WrapStore %d of %d concurrent updates survived, want all", got, n)
	}
	if _, ok := ops.Load(core.OpCompareAndSwap); !ok {
		t.Error("no CompareAndSwap went through the WrapStore wrapper")
	}
}

// TestNewWarnsForNaiveWrapper checks the one warning of New for a
// store without CompareAndSwapper, and none for a wrapped one.
func TestNewWarnsForNaiveWrapper(t *testing.T) {
	mem := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	for _, tc := range []struct {
		name  string
		store core.Store
		want  int
	}{
		{"naive wrapper", &countingStore{Store: mem}, 1},
		{"WrapStore", core.WrapStore(mem, core.StoreWrapper{}), 0},
		{"memory", mem, 0},
	} {
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		m, err := core.New(core.Config{Store: tc.store, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		s := m.Begin(httptest.NewRequest(http.MethodGet, "/", nil))
		s.Set("k", "v")
		_ = m.Commit(s, make(http.Header))
		lines := strings.Count(buf.String(), "core.CompareAndSwapper")
		if lines != tc.want {
			t.Errorf("%s: %d warnings about CompareAndSwapper, want %d; log:\n%s", tc.name, lines, tc.want, buf.String())
		}
		if tc.want > 0 && !strings.Contains(buf.String(), "level=WARN") {
			t.Errorf("%s: the warning is not at level WARN: %s", tc.name, buf.String())
		}
	}
}

// slowStore answers nothing until its context ends. A call still blocked
// after a long while returns errNeverCancelled, so that a missing deadline
// fails the test instead of hanging it.
type slowStore struct{ core.Store }

func (slowStore) Load(ctx context.Context, _ string) (core.Record, bool, error) {
	return core.Record{}, false, waitForCtx(ctx)
}

func TestCheck(t *testing.T) {
	mem := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	for _, tc := range []struct {
		store core.Store
		want  string // the one store call Check makes: store/op
	}{
		{mem, "memory/ping"},            // a Pinger
		{noPing{mem}, "core_test/load"}, // the fallback
	} {
		obs := &opCounter{}
		m, err := core.New(core.Config{Store: tc.store, Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		if m.Config().Store != tc.store {
			t.Errorf("Config().Store is not the store given")
		}
		if err := m.Check(t.Context()); err != nil {
			t.Fatalf("Check(live %T) = %v, want nil", tc.store, err)
		}
		if len(obs.ops) != 1 || obs.ops[tc.want] != 1 {
			t.Errorf("Check(%T) made store calls %v, want one %s", tc.store, obs.ops, tc.want)
		}
	}
	m, err := core.New(core.Config{Store: slowStore{noPing{mem}}, StoreTimeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = m.Check(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "sessionkit: check: ") {
		t.Errorf("Check(hung store) = %v, want sessionkit: check: ... context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Check(hung store) took %v, want about StoreTimeout (50ms)", d)
	}
}

type opCounter struct {
	core.NopObserver
	mu  sync.Mutex
	ops map[string]int
}

func (o *opCounter) StoreCallFinished(_ context.Context, e core.StoreCallEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ops == nil {
		o.ops = map[string]int{}
	}
	o.ops[e.Store+"/"+string(e.Op)]++
}

// noPing hides the Pinger of the store inside.
type noPing struct{ core.Store }
