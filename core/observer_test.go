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
	mu    sync.Mutex
	calls int
}

func (c *countingStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Store.Load(ctx, key)
}

// concurrentWrites stores one session, then has n requests, each through
// its own Manager (its own process), set a key of their own concurrently,
// and returns how many keys survived.
func concurrentWrites(t *testing.T, st core.Store, n int) int {
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
// every update.
func TestNaiveWrapperLosesUpdates(t *testing.T) {
	const n = 51
	var lost int
	for range 5 { // lost updates need an unlucky interleaving; five tries make one near certain
		mem := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { _ = mem.Close() })
		if got := concurrentWrites(t, &countingStore{Store: mem}, n); got < n {
			lost = n - got
			break
		}
	}
	if lost == 0 {
		t.Errorf("the naive wrapper kept all %d concurrent updates in five tries; the test no longer shows the failure it guards against", n)
	}
	mem := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	var calls sync.Map
	wrapped := core.WrapStore(mem, core.StoreWrapper{
		Around: func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
			v, _ := calls.LoadOrStore(c.Op, new(int64))
			_ = v
			return next(ctx)
		},
	})
	if got := concurrentWrites(t, wrapped, n); got != n {
		t.Errorf("through WrapStore %d of %d concurrent updates survived, want all", got, n)
	}
	if _, ok := calls.Load(core.OpCompareAndSwap); !ok {
		t.Error("no CompareAndSwap went through the WrapStore wrapper")
	}
	t.Logf("naive wrapper: %d of %d updates lost", lost, n)
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

// slowStore answers nothing until its context ends.
type slowStore struct{ core.Store }

func (slowStore) Load(ctx context.Context, _ string) (core.Record, bool, error) {
	<-ctx.Done()
	return core.Record{}, false, ctx.Err()
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
