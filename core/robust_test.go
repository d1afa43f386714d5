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

// conflictingToucher is a store whose Touch always loses against a
// concurrent writer.
type conflictingToucher struct{ *memory.Store }

func (c conflictingToucher) Touch(context.Context, string, time.Time) error {
	return fmt.Errorf("record kept changing: %w", core.ErrConflict)
}

// conflictingCAS is a compare-and-swap store without Touch whose
// CompareAndSwap conflicts once conflicts is set.
type conflictingCAS struct {
	core.Store
	mu        sync.Mutex
	conflicts bool
	refused   int // CompareAndSwap calls answered with ErrConflict
}

func (c *conflictingCAS) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	c.mu.Lock()
	bad := c.conflicts
	if bad {
		c.refused++
	}
	c.mu.Unlock()
	if bad {
		return 0, core.ErrConflict
	}
	return c.Store.(core.CompareAndSwapper).CompareAndSwap(ctx, key, version, data, expiry)
}

// TestTouchConflictIsNoError: a read-only request whose idle refresh loses
// against a concurrent writer succeeds: the writer extended the record.
func TestTouchConflictIsNoError(t *testing.T) {
	t.Run("Touch", func(t *testing.T) {
		st := memory.New(memory.Config{})
		t.Cleanup(func() { st.Close() })
		// RenewGrace off: with it, refresh uses the memory store's
		// CompareAndSwap rather than Touch.
		h := newHarness(t, core.Config{Store: conflictingToucher{st}, IdleTimeout: time.Hour, RenewGrace: -1})
		tok, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1) })
		h.now = h.now.Add(30 * time.Minute) // refresh due
		s, hdr := h.begin(tok, "192.0.2.1:1")
		s.Get("a")
		if err := h.m.Commit(s, hdr); err != nil {
			t.Fatalf("Commit of a read-only request whose Touch conflicted = %v, want nil", err)
		}
		if c := hdr.Get("Set-Cookie"); c != "" {
			t.Errorf("Set-Cookie after a conflicting Touch = %q, want none (the record was not extended by this request)", c)
		}
	})
	t.Run("CompareAndSwap", func(t *testing.T) {
		st := memory.New(memory.Config{})
		t.Cleanup(func() { st.Close() })
		cs := &conflictingCAS{Store: st} // no Touch: the interface hides it
		h := newHarness(t, core.Config{Store: cs, IdleTimeout: time.Hour})
		tok, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1) })
		h.now = h.now.Add(30 * time.Minute)
		cs.mu.Lock()
		cs.conflicts = true
		cs.mu.Unlock()
		s, hdr := h.begin(tok, "192.0.2.1:1")
		s.Get("a")
		if err := h.m.Commit(s, hdr); err != nil {
			t.Fatalf("Commit of a read-only request whose refresh conflicted = %v, want nil", err)
		}
	})
}

// TestCommitOutlivesClientDisconnect: the client goes away before the
// header (its request's context is cancelled, or past its deadline, as
// under http.TimeoutHandler), after or before the handler first touches
// the session (the load is lazy): the change is loaded into the session
// and stored all the same, with the values stored before.
func TestCommitOutlivesClientDisconnect(t *testing.T) {
	for _, tt := range []struct {
		name        string
		beforeTouch bool // the context ends before the session's first use (the load)
		deadline    bool // it ends by a deadline already past, not a cancellation
	}{
		{"cancelled after the first use", false, false},
		{"cancelled before the first use", true, false},
		{"past its deadline before the first use", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, core.Config{})
			tok, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 1) })
			ctx, cancel := context.WithCancel(context.Background())
			if tt.deadline {
				ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			}
			defer cancel()
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
			r.Header.Set("Cookie", "session="+tok)
			s := h.m.Begin(r)
			if tt.beforeTouch {
				cancel()
			}
			s.Set("order", "A-17")
			cancel()
			if err := s.Err(); err != nil {
				t.Errorf("Err after the client went away = %v, want nil", err)
			}
			if err := h.m.Commit(s, http.Header{}); err != nil {
				t.Fatalf("Commit after the client went away = %v, want nil", err)
			}
			h.m.Release(s)
			h.request(t, tok, func(s *core.Session) {
				if v, _ := s.Get("order"); v != "A-17" {
					t.Errorf("Get(order) = %v, want A-17 (the change of the request whose client went away)", v)
				}
				if v, _ := s.Get("cart"); v != 1 {
					t.Errorf("Get(cart) = %v, want 1 (the values stored before)", v)
				}
			})
		})
	}
}

// foreignStore is a memory store holding, under the keys in foreign, a
// value it cannot read and will not write over with a version 0
// compare-and-swap (another application's value under the store's
// prefix, a record whose data fails its checksum): Load reports it
// corrupt, CompareAndSwap(version 0) conflicts, Delete removes it.
type foreignStore struct {
	*memory.Store
	mu      sync.Mutex
	foreign map[string]bool
}

func (f *foreignStore) isForeign(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.foreign[key]
}

func (f *foreignStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if f.isForeign(key) {
		return core.Record{}, false, fmt.Errorf("foreign value: %w", core.ErrCorrupt)
	}
	return f.Store.Load(ctx, key)
}

func (f *foreignStore) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, exp time.Time) (uint64, error) {
	if f.isForeign(key) {
		return 0, core.ErrConflict
	}
	return f.Store.CompareAndSwap(ctx, key, version, data, exp)
}

func (f *foreignStore) Delete(ctx context.Context, key string) error {
	f.mu.Lock()
	delete(f.foreign, key)
	f.mu.Unlock()
	return f.Store.Delete(ctx, key)
}

// TestAdoptDoesNotAdoptCorruptRecord: with AdoptUnknownTokens, a token
// whose record the store reports corrupt gets a new session and a new
// token, as in strict mode, not a commit that conflicts with the record
// on every request (a 500 until it expires); the record is deleted.
func TestAdoptDoesNotAdoptCorruptRecord(t *testing.T) {
	st := &foreignStore{Store: memory.New(memory.Config{}), foreign: map[string]bool{}}
	t.Cleanup(func() { st.Store.Close() })
	h := newHarness(t, core.Config{Store: st, AdoptUnknownTokens: true, CommitTimeout: 2 * time.Second})
	tok, err := core.RandomTokens{}.New()
	if err != nil {
		t.Fatal(err)
	}
	st.foreign[core.StoreKey(tok)] = true
	s, hdr := h.begin(tok, "192.0.2.1:1")
	s.Set("n", 1)
	err = h.m.Commit(s, hdr)
	h.m.Release(s)
	if err != nil {
		t.Fatalf("request with a token whose record is corrupt: Commit = %v, want nil (a new session)", err)
	}
	var got string
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		got = c.Value
	}
	if got == "" || got == tok {
		t.Fatalf("cookie of %d bytes, the presented token: %v; want a new token", len(got), got == tok)
	}
	h.request(t, got, func(s *core.Session) {
		if v, _ := s.Get("n"); v != 1 {
			t.Errorf("the new session's n = %v, want 1", v)
		}
	})
	if st.isForeign(core.StoreKey(tok)) {
		t.Error("the corrupt record was not deleted")
	}
}

// hangingStore blocks the chosen operations until their context is done,
// as a paused server would. A call still blocked after a long while
// returns errNeverCancelled, so that a missing deadline fails the test
// instead of hanging it.
type hangingStore struct {
	*memory.Store
	mu   sync.Mutex
	hang map[string]bool
}

var errNeverCancelled = errors.New("store call was never cancelled: no deadline")

// waitForCtx is a store call that answers nothing until ctx ends: it
// returns ctx's error, or errNeverCancelled after a long while.
func waitForCtx(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return errNeverCancelled
	}
}

func (h *hangingStore) wait(ctx context.Context, op string) error {
	h.mu.Lock()
	hang := h.hang[op]
	h.mu.Unlock()
	if !hang {
		return nil
	}
	return waitForCtx(ctx)
}

func (h *hangingStore) set(ops ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hang = make(map[string]bool)
	for _, op := range ops {
		h.hang[op] = true
	}
}

func (h *hangingStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if err := h.wait(ctx, "Load"); err != nil {
		return core.Record{}, false, err
	}
	return h.Store.Load(ctx, key)
}

func (h *hangingStore) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	if err := h.wait(ctx, "Save"); err != nil {
		return err
	}
	return h.Store.Save(ctx, key, data, exp)
}

func (h *hangingStore) Delete(ctx context.Context, key string) error {
	if err := h.wait(ctx, "Delete"); err != nil {
		return err
	}
	return h.Store.Delete(ctx, key)
}

func (h *hangingStore) Touch(ctx context.Context, key string, exp time.Time) error {
	if err := h.wait(ctx, "Touch"); err != nil {
		return err
	}
	return h.Store.Touch(ctx, key, exp)
}

func (h *hangingStore) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, exp time.Time) (uint64, error) {
	if err := h.wait(ctx, "CompareAndSwap"); err != nil {
		return 0, err
	}
	return h.Store.CompareAndSwap(ctx, key, version, data, exp)
}

// TestStoreCallsHaveADeadline: with a store that hangs, every store call
// ends after StoreTimeout and the error reaches the error handler.
func TestStoreCallsHaveADeadline(t *testing.T) {
	for _, tc := range []struct {
		op      string
		idle    bool
		handler func(s *core.Session)
	}{
		{"Load", false, func(s *core.Session) { s.Get("a") }},
		{"CompareAndSwap", false, func(s *core.Session) { s.Set("b", 2) }},
		{"Touch", true, func(s *core.Session) { s.Get("a") }},
		{"Delete", false, func(s *core.Session) { s.Destroy() }},
	} {
		t.Run(tc.op, func(t *testing.T) {
			st := &hangingStore{Store: memory.New(memory.Config{})}
			t.Cleanup(func() { st.Store.Close() })
			var handled []error
			cfg := core.Config{Store: st, StoreTimeout: 20 * time.Millisecond,
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					handled = append(handled, err)
					w.WriteHeader(http.StatusServiceUnavailable)
				}}
			if tc.idle {
				cfg.IdleTimeout = time.Hour
				cfg.RenewGrace = -1 // refresh with Touch, not CompareAndSwap
			}
			h := newHarness(t, cfg)
			tok, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1) })
			h.now = h.now.Add(30 * time.Minute)
			st.set(tc.op)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", "session="+tok)
			s := h.m.Begin(r)
			tc.handler(s)
			err := h.m.Commit(s, http.Header{})
			h.m.Release(s)
			if err == nil {
				t.Fatalf("Commit with a hanging %s = nil, want an error", tc.op)
			}
			h.m.HandleError(httptest.NewRecorder(), r, err)
			if len(handled) != 1 || !errors.Is(handled[0], context.DeadlineExceeded) {
				t.Errorf("error handler got %v, want one error wrapping context.DeadlineExceeded", handled)
			}
		})
	}
}

// TestCommitTimeoutBoundsRetries: a commit that keeps conflicting gives up
// at its deadline, not after a count, with an error wrapping ErrConflict
// and the deadline wherever the deadline ends it: in the backoff or the
// compare-and-swap (here), or in the reload after a lost compare-and-swap
// (TestRetryDeadlineDuringReload, Commit).
func TestCommitTimeoutBoundsRetries(t *testing.T) {
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	cs := &conflictingCAS{Store: st}
	h := newHarness(t, core.Config{Store: cs, CommitTimeout: 50 * time.Millisecond})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1) })
	cs.mu.Lock()
	cs.conflicts = true
	cs.mu.Unlock()
	s, hdr := h.begin(tok, "192.0.2.1:1")
	s.Set("b", 2)
	err := h.m.Commit(s, hdr)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, core.ErrConflict) {
		t.Errorf("Commit against a store that always conflicts = %v, want an error wrapping context.DeadlineExceeded and ErrConflict", err)
	}
	cs.mu.Lock()
	refused := cs.refused
	cs.mu.Unlock()
	if refused < 2 {
		t.Errorf("Commit gave up after %d conflicting attempts, want retries until the deadline", refused)
	}
}

// oneKeyConflicts is the memory store whose compare-and-swaps of key
// (with or without a user) conflict, once key is set, and whose loads of key after the first such
// conflict wait for the caller's deadline: the reload of a retry loop
// outlasts it. It declines Renew, so that a renew takes the core's two
// steps and retires the old key by compare-and-swap.
type oneKeyConflicts struct {
	*memory.Store
	mu      sync.Mutex
	key     string
	refused int
}

func (c *oneKeyConflicts) conflicting(key string, refuse bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if key != c.key {
		return false
	}
	if refuse {
		c.refused++
		return true
	}
	return c.refused > 0
}

func (c *oneKeyConflicts) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	if c.conflicting(key, true) {
		return 0, core.ErrConflict
	}
	return c.Store.CompareAndSwap(ctx, key, version, data, expiry)
}

func (c *oneKeyConflicts) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	if c.conflicting(key, true) {
		return 0, core.ErrConflict
	}
	return c.Store.CompareAndSwapUser(ctx, key, version, data, expiry, user, until)
}

func (c *oneKeyConflicts) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if c.conflicting(key, false) {
		return core.Record{}, false, waitForCtx(ctx)
	}
	return c.Store.Load(ctx, key)
}

func (c *oneKeyConflicts) Renew(context.Context, core.Renewal) (uint64, error) {
	return 0, core.ErrNotSupported
}

// TestRetryDeadlineDuringReload: every compare-and-swap retry loop, when
// the deadline ends the reload after a lost compare-and-swap, fails with
// an error that wraps ErrConflict as well as the deadline. Commit: a
// commit's write; Renew: the retirement of the old record (the successor
// is written); EndUserSessions: the end of a listed session.
func TestRetryDeadlineDuringReload(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(h *harness, tok string) error
	}{
		{"Commit", func(h *harness, tok string) error {
			s, hdr := h.begin(tok, "192.0.2.1:1")
			s.Set("b", 2)
			defer h.m.Release(s)
			return h.m.Commit(s, hdr)
		}},
		{"Renew", func(h *harness, tok string) error {
			s, hdr := h.begin(tok, "192.0.2.1:1")
			s.Renew()
			defer h.m.Release(s)
			return h.m.Commit(s, hdr)
		}},
		{"EndUserSessions", func(h *harness, _ string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := h.m.EndUserSessions(ctx, "ann", "")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &oneKeyConflicts{Store: memory.New(memory.Config{})}
			t.Cleanup(func() { st.Close() })
			h := newHarness(t, core.Config{Store: st, CommitTimeout: 50 * time.Millisecond})
			tok, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1); s.SetUser("ann") })
			st.mu.Lock()
			st.key = core.StoreKey(tok)
			st.mu.Unlock()
			err := tc.run(h, tok)
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, core.ErrConflict) {
				t.Errorf("%s against a record that conflicts and whose reload outlasts the deadline = %v, want an error wrapping context.DeadlineExceeded and ErrConflict", tc.name, err)
			}
			st.mu.Lock()
			refused := st.refused
			st.mu.Unlock()
			if refused == 0 {
				t.Errorf("%s made no compare-and-swap of the record: the test did not reach the retry loop", tc.name)
			}
		})
	}
}

// TestNewWarnsWithoutCompareAndSwap: core.New logs once, at warning level,
// that concurrent updates can be lost on a store without compare-and-swap.
func TestNewWarnsWithoutCompareAndSwap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store core.Store
		warn  bool
	}{
		{"noCAS", struct{ core.Store }{memory.New(memory.Config{})}, true},
		{"CAS", memory.New(memory.Config{}), false},
	} {
		var logs bytes.Buffer
		_, err := core.New(core.Config{Store: tc.store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(logs.String(), "level=WARN")
		got := n == 1 && strings.Contains(logs.String(), "concurrent updates")
		if got != tc.warn || (!tc.warn && n != 0) {
			t.Errorf("%s: New logged %q, want a warning: %t", tc.name, logs.String(), tc.warn)
		}
	}
}
