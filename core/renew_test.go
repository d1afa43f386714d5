package core_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// opRecorder records the store operations the core makes.
type opRecorder struct {
	mu  sync.Mutex
	ops []core.StoreOp
}

func (o *opRecorder) around(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
	o.mu.Lock()
	o.ops = append(o.ops, c.Op)
	o.mu.Unlock()
	return next(ctx)
}

func (o *opRecorder) take() []core.StoreOp {
	o.mu.Lock()
	defer o.mu.Unlock()
	ops := o.ops
	o.ops = nil
	return ops
}

// TestRenewStoreCalls: with a Renewer a renew is a load and one Renew
// call (two round trips on a network store), for an anonymous session and
// for a login; without, a load and two compare-and-swaps.
func TestRenewStoreCalls(t *testing.T) {
	for _, tc := range []struct {
		name         string
		hide         bool
		renew, login []core.StoreOp
	}{
		{"Renewer", false,
			[]core.StoreOp{core.OpLoad, core.OpRenew},
			[]core.StoreOp{core.OpLoad, core.OpRenew}},
		{"two steps", true,
			[]core.StoreOp{core.OpLoad, core.OpCompareAndSwap, core.OpCompareAndSwap},
			// The anonymous old record is filed under nobody: a plain swap
			// retires it.
			[]core.StoreOp{core.OpLoad, core.OpCompareAndSwapUser, core.OpCompareAndSwap}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.New(memory.Config{})
			t.Cleanup(func() { _ = mem.Close() })
			var inner core.Store = mem
			if tc.hide {
				inner = struct {
					core.Store
					core.UserIndexer
				}{mem, mem}
			}
			rec := new(opRecorder)
			h := newHarness(t, core.Config{Store: core.WrapStore(inner, core.StoreWrapper{Around: rec.around})})
			tok, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 3) })
			rec.take()
			renewed, _ := h.request(t, tok, func(s *core.Session) { s.Renew() })
			if got := rec.take(); !slices.Equal(got, tc.renew) {
				t.Errorf("renew of an anonymous session: store calls %q, want %q", got, tc.renew)
			}
			login, _ := h.request(t, renewed, func(s *core.Session) { s.Renew(); s.SetUser("ann") })
			if got := rec.take(); !slices.Equal(got, tc.login) {
				t.Errorf("login (renew and SetUser): store calls %q, want %q", got, tc.login)
			}
			h.request(t, login, func(s *core.Session) {
				if v, _ := s.Get("cart"); v != 3 || s.User() != "ann" {
					t.Errorf("after two renews: cart %v, user %q; want 3 and ann", v, s.User())
				}
			})
			for _, old := range []string{tok, renewed} {
				h.request(t, old, func(s *core.Session) {
					if _, ok := s.Get("cart"); ok {
						t.Error("a renewed-away token still loads the session's data")
					}
				})
			}
			keys, err := mem.UserKeys(t.Context(), "ann")
			if err != nil || len(keys) != 1 || keys[0] != core.StoreKey(login) {
				t.Errorf("UserKeys(ann) = %d keys, %v; want only the login's key", len(keys), err)
			}
		})
	}
}

// TestRenewAfterConcurrentWrite: a write to the old record between the
// renewing request's load and its commit makes Renew conflict; the core
// then carries the concurrent write over to the successor, which holds
// both requests' values, and the old token loads nothing.
func TestRenewAfterConcurrentWrite(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1) })
	s, hdr := h.begin(tok, "192.0.2.1:1234")
	s.Get("a") // loaded
	h.request(t, tok, func(s *core.Session) { s.Set("b", 2) })
	s.Renew()
	s.Set("c", 3)
	renewed, _ := h.commit(t, s, tok, hdr)
	if renewed == "" || renewed == tok {
		t.Fatal("the renew issued no new token")
	}
	h.request(t, renewed, func(s *core.Session) {
		for _, k := range []string{"a", "b", "c"} {
			if _, ok := s.Get(k); !ok {
				t.Errorf("after a renew that raced a write: %q missing from the successor (keys %q)", k, s.Keys())
			}
		}
	})
	h.request(t, tok, func(s *core.Session) {
		if len(s.Keys()) != 0 {
			t.Errorf("the renewed-away token loads %q", s.Keys())
		}
	})
}

// oldDataRecorder is a memory store whose Renew records the OldData of
// every renewal it is given.
type oldDataRecorder struct {
	*memory.Store
	mu      sync.Mutex
	oldData [][]byte
}

func (o *oldDataRecorder) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	o.mu.Lock()
	o.oldData = append(o.oldData, slices.Clone(r.OldData))
	o.mu.Unlock()
	return o.Store.Renew(ctx, r)
}

// TestRenewOldData: Renewal.OldData is the old record as the request
// loaded it, byte for byte, and nil once the request has written the
// record itself (claiming flash messages), when those bytes are no longer
// the record at OldVersion.
func TestRenewOldData(t *testing.T) {
	mem := memory.New(memory.Config{})
	t.Cleanup(func() { _ = mem.Close() })
	store := &oldDataRecorder{Store: mem}
	h := newHarness(t, core.Config{Store: store})
	take := func() [][]byte {
		store.mu.Lock()
		defer store.mu.Unlock()
		got := store.oldData
		store.oldData = nil
		return got
	}

	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 3); s.Set("name", "ann") })
	stored, ok, err := mem.Load(t.Context(), core.StoreKey(tok))
	if err != nil || !ok {
		t.Fatalf("Load of the seeded session = %v, %v", ok, err)
	}
	renewed, _ := h.request(t, tok, func(s *core.Session) { s.Renew(); s.Set("user", "ann") })
	if got := take(); len(got) != 1 || !slices.Equal(got[0], stored.Data) {
		t.Fatalf("OldData of a renew = %q, want the record loaded, %q", got, stored.Data)
	}

	// A request that claims flash messages writes the record before its
	// renew: the bytes it loaded are no longer the record at OldVersion.
	h.request(t, renewed, func(s *core.Session) { s.AddFlash("welcome") })
	again, _ := h.request(t, renewed, func(s *core.Session) {
		if f := s.Flashes(); len(f) != 1 {
			t.Errorf("Flashes = %q, want the one added", f)
		}
		s.Renew()
	})
	if got := take(); len(got) != 1 || got[0] != nil {
		t.Fatalf("OldData of a renew after the request wrote the record = %q, want nil", got)
	}
	h.request(t, again, func(s *core.Session) {
		if v, _ := s.Get("cart"); v != 3 || len(s.Flashes()) != 0 {
			t.Errorf("after the renews: cart %v, flashes %q; want 3 and none", v, s.Flashes())
		}
	})

	// A request whose Flashes finds its messages claimed by a concurrent
	// request of this Manager reloads the record the other one wrote:
	// the bytes it loaded first are no longer the record at its version.
	h.request(t, again, func(s *core.Session) { s.AddFlash("hello") })
	first, hdr := h.begin(again, "192.0.2.1:1234")
	first.Get("cart") // loaded, with the message
	h.request(t, again, func(s *core.Session) {
		if f := s.Flashes(); len(f) != 1 {
			t.Errorf("the concurrent request's Flashes = %q, want the one added", f)
		}
	})
	current, ok, err := mem.Load(t.Context(), core.StoreKey(again))
	if err != nil || !ok {
		t.Fatalf("Load after the claim = %v, %v", ok, err)
	}
	if f := first.Flashes(); len(f) != 0 {
		t.Errorf("Flashes after a concurrent claim = %q, want none", f)
	}
	first.Renew()
	h.commit(t, first, again, hdr)
	if got := take(); len(got) != 1 || got[0] != nil && !slices.Equal(got[0], current.Data) {
		t.Fatalf("OldData of a renew after Flashes reloaded the record = %q, want nil or the record reloaded, %q", got, current.Data)
	}
}
