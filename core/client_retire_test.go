package core_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// retiringClientStore adds core.RetiringClientStore to plainClientStore
// and counts the calls the core makes.
type retiringClientStore struct {
	plainClientStore
	retired                  map[string]time.Time // session id -> end of its grace window
	retires, revokes, checks int
	checkErr                 error // returned by Retired when set
}

func (p *retiringClientStore) Revoke(ctx context.Context, name, id string, exp time.Time) error {
	p.mu.Lock()
	p.revokes++
	delete(p.retired, id)
	p.mu.Unlock()
	return p.plainClientStore.Revoke(ctx, name, id, exp)
}

func (p *retiringClientStore) Retire(ctx context.Context, name, id string, graceUntil, exp time.Time) error {
	if err := p.plainClientStore.Revoke(ctx, name, id, exp); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retires++
	if p.retired == nil {
		p.retired = map[string]time.Time{}
	}
	p.retired[id] = graceUntil
	return nil
}

func (p *retiringClientStore) Retired(_ context.Context, name, tok string) (time.Time, error) {
	id, _, _, ok := p.parse(name, tok)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks++
	if p.checkErr != nil {
		return time.Time{}, p.checkErr
	}
	if !ok {
		return time.Time{}, nil
	}
	return p.retired[id], nil
}

func (p *retiringClientStore) counts() (retires, revokes, checks int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retires, p.revokes, p.checks
}

// TestRenewGraceClientSide: with a core.RetiringClientStore, a request
// presenting a client-side token that Renew retired moments ago behaves
// as with a server-side store: an empty session, no cookie, its changes
// dropped with a log line, Destroy sending nothing; after the window the
// token is unknown. Renew makes one store call (Retire, not Revoke), and
// only refused tokens cost a Retired call.
func TestRenewGraceClientSide(t *testing.T) {
	cs := &retiringClientStore{}
	h := newHarness(t, core.Config{ClientStore: cs})
	anon, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 1) })
	login, _ := h.request(t, anon, func(s *core.Session) { s.Renew(); s.Set("user", "ann") })
	if login == anon || login == "" {
		t.Fatal("Renew issued no new token")
	}
	if retires, revokes, checks := cs.counts(); retires != 1 || revokes != 0 || checks != 0 {
		t.Fatalf("after a renew: %d Retire, %d Revoke, %d Retired calls; want 1, 0, 0", retires, revokes, checks)
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
	_, _, checks := cs.counts()
	h.request(t, login, func(s *core.Session) {
		if k := s.Keys(); !slices.Equal(k, []string{"cart", "user"}) || s.Flashes() != nil {
			t.Errorf("renewed session: Keys = %q; want [cart user] and no flash from the retired token", k)
		}
	})
	h.request(t, "", func(s *core.Session) { s.Get("x") })
	if _, _, n := cs.counts(); n != checks {
		t.Errorf("a live token and no token made %d Retired calls, want 0 (only refused tokens may cost one)", n-checks)
	}
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
}

// TestRenewGraceClientSideOff: with RenewGrace off, or on Destroy, the
// core revokes the session id as before and a refused token costs no
// Retired call when off.
func TestRenewGraceClientSideOff(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		cs := &retiringClientStore{}
		h := newHarness(t, core.Config{ClientStore: cs, RenewGrace: -1})
		anon, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 1) })
		h.request(t, anon, func(s *core.Session) { s.Renew() })
		tok, hdr := h.request(t, anon, func(s *core.Session) { s.Set("x", 1) })
		retires, revokes, checks := cs.counts()
		if retires != 0 || revokes != 1 || checks != 0 {
			t.Errorf("RenewGrace < 0: %d Retire, %d Revoke, %d Retired calls; want 0, 1, 0", retires, revokes, checks)
		}
		if tok == anon || hdr.Get("Set-Cookie") == "" {
			t.Error("RenewGrace < 0: the revoked token must get a fresh session and cookie")
		}
	})
	t.Run("destroy", func(t *testing.T) {
		cs := &retiringClientStore{}
		h := newHarness(t, core.Config{ClientStore: cs})
		tok, _ := h.request(t, "", func(s *core.Session) { s.Set("user", "ann") })
		h.request(t, tok, func(s *core.Session) { s.Destroy() })
		_, hdr := h.request(t, tok, func(s *core.Session) { s.Set("x", 1) })
		if retires, revokes, _ := cs.counts(); retires != 0 || revokes != 1 {
			t.Errorf("Destroy: %d Retire, %d Revoke calls; want 0, 1", retires, revokes)
		}
		if hdr.Get("Set-Cookie") == "" {
			t.Error("after a logout the old token must get a fresh session and cookie")
		}
	})
	t.Run("error", func(t *testing.T) {
		boom := errors.New("revocation list down")
		cs := &retiringClientStore{checkErr: boom}
		h := newHarness(t, core.Config{ClientStore: cs})
		tok, _ := h.request(t, "", func(s *core.Session) { s.Set("user", "ann") })
		h.request(t, tok, func(s *core.Session) { s.Renew() })
		s, hdr := h.begin(tok, "192.0.2.1:1")
		s.Set("x", 1)
		if err := h.m.Commit(s, hdr); !errors.Is(err, boom) || hdr.Get("Set-Cookie") != "" {
			t.Errorf("Commit with a failing Retired = %v, Set-Cookie %q; want the store's error and no cookie", err, hdr.Get("Set-Cookie"))
		}
		h.m.Release(s)
	})
}
