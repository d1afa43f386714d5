package core_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestNewSessionAfterFailedCommit: a new session's commit writes its
// values from its changes, encoded straight into a record when they are
// scalars (see Session.encodableNew) and else as the map of them, which
// becomes the session's base only once written (see
// Session.mergeIntoBase). Either way, when that commit fails, the session
// must still hold exactly its values through further Set, Delete, Clear
// and Revert, and a later commit must store exactly them; after a commit
// that succeeded, a change must not reach the stored values through data
// the session shares with the store.
func TestNewSessionAfterFailedCommit(t *testing.T) {
	for name, v := range map[string]func(int) any{
		"scalars": func(n int) any { return n },
		"slices":  func(n int) any { return []int{n} },
	} {
		t.Run(name, func(t *testing.T) { testNewSessionAfterFailedCommit(t, v) })
	}
}

func testNewSessionAfterFailedCommit(t *testing.T, v func(int) any) {
	st := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = st.Close() })
	faulty := conformance.NewFaultyStore(st)
	h := newHarness(t, core.Config{Store: faulty.Store()})
	keys := func(s *core.Session) []string { return s.Keys() }

	s, hdr := h.begin("", "192.0.2.1:1")
	s.Set("a", v(1))
	s.Set("b", v(2))
	s.Set("gone", v(3))
	s.Delete("gone")
	faulty.FailAll(nil)
	if err := h.m.Commit(s, hdr); !errors.Is(err, conformance.ErrInjected) {
		t.Fatalf("Commit with the store down = %v, want the injected error", err)
	}
	faulty.Heal()
	if got := keys(s); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after the failed commit: keys %v, want [a b]", got)
	}
	s.Set("c", v(3))
	s.Delete("a")
	if got, n := keys(s), s.Len(); !slices.Equal(got, []string{"b", "c"}) || n != 2 {
		t.Fatalf("after Set(c), Delete(a): keys %v (Len %d), want [b c]", got, n)
	}
	if _, ok := s.Get("a"); ok {
		t.Fatal("Get(a) after Delete(a) found it")
	}
	s.Revert()
	if got := keys(s); len(got) != 0 {
		t.Fatalf("after Revert: keys %v, want none (a new session starts empty)", got)
	}
	s.Set("d", v(4))
	s.Set("e", v(5))
	s.Delete("e")
	tok, _ := h.commit(t, s, "", hdr)
	if tok == "" {
		t.Fatal("the commit after healing sent no token")
	}
	h.request(t, tok, func(s *core.Session) {
		if got := keys(s); !slices.Equal(got, []string{"d"}) {
			t.Errorf("stored keys %v, want [d]", got)
		}
	})

	// A change after a successful commit (the adapter's second Commit,
	// after the header left) is stored as a change of the saved session.
	s, hdr = h.begin("", "192.0.2.1:1")
	s.Set("x", v(1))
	if err := h.m.Commit(s, hdr); err != nil {
		t.Fatal(err)
	}
	tok = ""
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == "session" {
			tok = c.Value
		}
	}
	if tok == "" {
		t.Fatal("the first commit sent no token")
	}
	s.Set("y", v(2))
	s.Delete("x")
	if err := h.m.Commit(s, nil); err != nil {
		t.Fatal(err)
	}
	h.m.Release(s)
	h.request(t, tok, func(s *core.Session) {
		if got := keys(s); !slices.Equal(got, []string{"y"}) {
			t.Errorf("stored keys after the second commit %v, want [y]", got)
		}
	})
}

// TestRebaseKeepsTheRecordsID: two requests carry the same unknown token
// (AdoptUnknownTokens) and both file the new session under a user; the
// second one's write conflicts with the first's and is rebased on it.
// The record keeps the public id the first write gave it: the second
// request's own id, made when it was stamped, is no change of its to
// replay (stamping writes into the map of the session's values, never
// into its changes).
func TestRebaseKeepsTheRecordsID(t *testing.T) {
	h := newHarness(t, core.Config{AdoptUnknownTokens: true})
	tok, err := core.RandomTokens{}.New() // well-formed, stored nowhere
	if err != nil {
		t.Fatal(err)
	}
	a, hdrA := h.begin(tok, "192.0.2.1:1")
	b, hdrB := h.begin(tok, "192.0.2.1:2")
	a.SetUser("u")
	b.SetUser("u")
	h.commit(t, a, tok, hdrA)
	var first string
	h.request(t, tok, func(s *core.Session) { first = s.ID() })
	h.commit(t, b, tok, hdrB)
	h.request(t, tok, func(s *core.Session) {
		if got := s.ID(); got != first {
			t.Errorf("after the rebased write the record's id is %q, want the first write's %q", got, first)
		}
		if u := s.User(); u != "u" {
			t.Errorf("User() = %q, want u", u)
		}
	})
}
