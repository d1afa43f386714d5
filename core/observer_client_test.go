package core_test

import (
	"bytes"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

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
	step("check", map[string]int{"store/ping": 1}, func() {
		if err := m.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	if p := ev.Problems(); len(p) > 0 {
		t.Error(p)
	}
}
