package core_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// TestReservedKeys: an application key cannot collide with the core's
// metadata: Set of a key that begins with NUL (like the client-address
// slot, once an ordinary key) panics instead of silently disappearing.
func TestReservedKeys(t *testing.T) {
	h := newHarness(t, core.Config{BindClientIP: true})
	for _, key := range []string{"\x00sessionkit.ip", "\x00mine"} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(p.(string), "reserved") {
					t.Errorf("Set(%q) panicked with %v, want a panic naming the reserved prefix", key, p)
				}
			}()
			h.request(t, "", func(s *core.Session) { s.Set(key, "x") })
		}()
	}
	if !core.ReservedKey("\x00x") || core.ReservedKey("x\x00") || core.ReservedKey("") {
		t.Error("ReservedKey: want true only for a leading NUL byte")
	}
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("sessionkit.ip", "mine") })
	h.request(t, tok, func(s *core.Session) {
		if v, _ := s.Get("sessionkit.ip"); v != "mine" || !slices.Equal(s.Keys(), []string{"sessionkit.ip"}) {
			t.Errorf("after a bound session's next request: Get = %v, Keys = %q; want the application's value and key only", v, s.Keys())
		}
		if _, ok := s.Get("\x00sessionkit.ip"); ok {
			t.Error("Get of the metadata slot found it, want not found")
		}
	})
}

// TestRenewGrace: a request presenting a token that Renew retired moments
// ago gets no cookie, sees nothing of the renewed session, and its
// changes are dropped with a log line; after the window the token is
// unknown. Destroy is not affected.
func TestRenewGrace(t *testing.T) {
	for _, store := range []string{"cas", "noCAS"} {
		t.Run(store, func(t *testing.T) {
			h := newHarness(t, core.Config{})
			if store == "noCAS" {
				st := h.store
				h = newHarness(t, core.Config{Store: struct{ core.Store }{st}})
				h.store = st
			}
			anon, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 1) })
			login, _ := h.request(t, anon, func(s *core.Session) { s.Renew(); s.Set("user", "ann") })
			if login == anon || login == "" {
				t.Fatal("Renew issued no new token")
			}
			rec, found, err := h.store.Load(context.Background(), core.StoreKey(anon))
			if err != nil || !found {
				t.Fatalf("Load(retired key) = %v, %v; want the retired marker", found, err)
			}
			if bytes.Contains(rec.Data, []byte(login)) || bytes.Contains(rec.Data, []byte(core.StoreKey(login))) ||
				bytes.Contains(rec.Data, []byte("ann")) || bytes.Contains(rec.Data, []byte("cart")) {
				t.Errorf("the retired marker holds session data or the new token: %q", rec.Data)
			}
			h.logs.Reset()
			_, hdr := h.request(t, anon, func(s *core.Session) {
				if !s.IsNew() || s.Len() != 0 {
					t.Errorf("retired token: IsNew=%v Keys=%q, want an empty new session", s.IsNew(), s.Keys())
				}
				s.Set("late", true)
				s.AddFlash("late")
			})
			if c := hdr.Get("Set-Cookie"); c != "" {
				t.Errorf("request with the retired token set a cookie %q, want none (it would replace the renewed one)", c)
			}
			if !strings.Contains(h.logs.String(), "retired") || strings.Contains(h.logs.String(), anon) {
				t.Errorf("dropped changes: log %q, want a line about the retired token without the token", h.logs.String())
			}
			_, hdr = h.request(t, anon, func(s *core.Session) { s.Destroy() })
			if c := hdr.Get("Set-Cookie"); c != "" {
				t.Errorf("Destroy with the retired token set a cookie %q, want none", c)
			}
			h.request(t, login, func(s *core.Session) {
				if k := s.Keys(); !slices.Equal(k, []string{"cart", "user"}) || s.Flashes() != nil {
					t.Errorf("renewed session: Keys = %q; want [cart user] and no flash from the retired token", k)
				}
			})
			h.now = h.now.Add(core.DefaultRenewGrace + time.Second)
			tok, hdr := h.request(t, anon, func(s *core.Session) {
				if !s.IsNew() {
					t.Error("retired token after the window: IsNew = false")
				}
				s.Set("x", 1)
			})
			if tok == anon || hdr.Get("Set-Cookie") == "" {
				t.Errorf("retired token after the window: a new session must get a new cookie (Set-Cookie %q)", hdr.Get("Set-Cookie"))
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		h := newHarness(t, core.Config{RenewGrace: -1})
		anon, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 1) })
		h.request(t, anon, func(s *core.Session) { s.Renew() })
		if _, found, _ := h.store.Load(context.Background(), core.StoreKey(anon)); found {
			t.Error("RenewGrace < 0: the retired token's record is still there, want it deleted")
		}
	})
	t.Run("destroy", func(t *testing.T) {
		h := newHarness(t, core.Config{})
		tok, _ := h.request(t, "", func(s *core.Session) { s.Set("user", "ann") })
		h.request(t, tok, func(s *core.Session) { s.Destroy() })
		_, hdr := h.request(t, tok, func(s *core.Session) { s.Set("x", 1) })
		if hdr.Get("Set-Cookie") == "" {
			t.Error("after a logout the old token must get a fresh session and cookie")
		}
	})
}
