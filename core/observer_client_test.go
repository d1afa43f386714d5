package core_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestObserverClientStore checks the events of client-side sessions: the
// ClientStore's calls (seal, open, retire, revoke, ping) reach the
// Observer once each, with the ClientStore's capabilities as they were.
func TestObserverClientStore(t *testing.T) {
	revocations := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = revocations.Close() })
	cs, err := cookie.New(cookie.Config{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}, Revocations: revocations})
	if err != nil {
		t.Fatal(err)
	}
	ev := new(conformance.EventCounter)
	m, err := core.New(core.Config{ClientStore: cs, Observer: ev})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config().ClientStore != cs {
		t.Errorf("Config().ClientStore is not the ClientStore given")
	}
	cookieOf := func(h http.Header) string {
		cs := (&http.Response{Header: h}).Cookies()
		if len(cs) == 0 {
			return ""
		}
		return cs[0].Name + "=" + cs[0].Value
	}
	request := func(ck string, use func(s *core.Session)) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if ck != "" {
			r.Header.Set("Cookie", ck)
		}
		s := m.Begin(r)
		use(s)
		h := make(http.Header)
		if err := m.Commit(s, h); err != nil {
			t.Fatal(err)
		}
		m.Release(s)
		return cookieOf(h)
	}
	step := func(name string, want map[string]int, run func()) {
		t.Helper()
		ev.Reset()
		run()
		if got := ev.Counts(); !maps.Equal(got, want) {
			t.Errorf("%s: events %v, want %v", name, got, want)
		}
	}
	var ck string
	step("new", map[string]int{"store/seal": 1, "created": 1, "commit_started": 1, "committed/written": 1}, func() {
		ck = request("", func(s *core.Session) { s.Set("k", 1) })
	})
	step("read", map[string]int{"store/open": 1, "loaded/hit": 1, "committed/nothing": 1}, func() {
		request(ck, func(s *core.Session) { s.Get("k") })
	})
	old := ck
	step("renew", map[string]int{"store/open": 1, "loaded/hit": 1, "store/seal": 1, "store/retire": 1, "renewed": 1, "commit_started": 1, "committed/written": 1}, func() {
		ck = request(ck, func(s *core.Session) { s.Renew() })
	})
	step("retired token", map[string]int{"store/open": 1, "store/retired": 1, "loaded/miss": 1, "committed/dropped": 1}, func() {
		request(old, func(s *core.Session) { s.Get("k") })
	})
	step("destroy", map[string]int{"store/open": 1, "loaded/hit": 1, "store/revoke": 1, "destroyed": 1, "commit_started": 1, "committed/written": 1}, func() {
		request(ck, func(s *core.Session) { s.Destroy() })
	})
	var ann string
	step("login", map[string]int{"store/seal": 1, "created": 1, "commit_started": 1, "committed/written": 1}, func() {
		ann = request("", func(s *core.Session) { s.SetUser("ann"); s.Set("k", 1) })
	})
	step("end the user's sessions", map[string]int{"store/revoke_user": 1}, func() {
		if _, err := m.EndUserSessions(t.Context(), "ann", ""); err != nil {
			t.Fatal(err)
		}
	})
	// A session that EndUserSessions ended loads as a miss, not a hit.
	step("ended by the user's revocation", map[string]int{"store/open": 1, "store/user_revoked": 1, "loaded/miss": 1, "committed/nothing": 1}, func() {
		request(ann, func(s *core.Session) {
			if s.User() != "" {
				t.Errorf("User() = %q after EndUserSessions, want a new session", s.User())
			}
		})
	})
	step("check", map[string]int{"store/ping": 1}, func() {
		if err := m.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	if p := ev.Problems(); len(p) > 0 {
		t.Error(p)
	}
}

// noCASFailingDelete is a store without compare-and-swap whose Delete can
// fail: the old token of a renew is then ended by a Delete after the new
// record was written.
type noCASFailingDelete struct {
	inner core.Store
	fail  bool
}

func (s *noCASFailingDelete) Load(ctx context.Context, key string) (core.Record, bool, error) {
	return s.inner.Load(ctx, key)
}

func (s *noCASFailingDelete) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return s.inner.Save(ctx, key, data, exp)
}

func (s *noCASFailingDelete) Delete(ctx context.Context, key string) error {
	if s.fail {
		return errors.New("delete failed")
	}
	return s.inner.Delete(ctx, key)
}

// TestObserverRenewedOnlyWhenOldTokenEnded: a renew whose old token could
// not be ended fails the commit, sends no cookie, and is not reported as
// renewed.
func TestObserverRenewedOnlyWhenOldTokenEnded(t *testing.T) {
	mem := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	st := &noCASFailingDelete{inner: mem}
	ev := new(conformance.EventCounter)
	m, err := core.New(core.Config{Store: st, Observer: ev, RenewGrace: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	request := func(ck string, use func(s *core.Session)) (string, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if ck != "" {
			r.Header.Set("Cookie", ck)
		}
		s := m.Begin(r)
		use(s)
		h := make(http.Header)
		err := m.Commit(s, h)
		m.Release(s)
		if cs := (&http.Response{Header: h}).Cookies(); len(cs) > 0 {
			return cs[0].Name + "=" + cs[0].Value, err
		}
		return "", err
	}
	ck, err := request("", func(s *core.Session) { s.Set("k", 1) })
	if err != nil || ck == "" {
		t.Fatalf("new session: cookie %q, %v", ck, err)
	}
	st.fail = true
	ev.Reset()
	got, err := request(ck, func(s *core.Session) { s.Renew() })
	if err == nil || got != "" {
		t.Fatalf("renew with a failing Delete: cookie %q, %v; want no cookie and an error", got, err)
	}
	if n := ev.Counts()["renewed"]; n != 0 {
		t.Errorf("renewed reported %d times for a renew whose old token still works (events %v)", n, ev.Counts())
	}
	st.fail = false
	ev.Reset()
	if _, err := request(ck, func(s *core.Session) { s.Renew() }); err != nil {
		t.Fatal(err)
	}
	if n := ev.Counts()["renewed"]; n != 1 {
		t.Errorf("renewed reported %d times for a renew that took effect, want 1 (events %v)", n, ev.Counts())
	}
}
