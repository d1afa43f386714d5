package uuidtoken_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/core/uuidtoken"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func TestNewIssuesValidDistinctV4(t *testing.T) {
	var g uuidtoken.Generator
	seen := make(map[string]bool)
	for range 1000 {
		tok, err := g.New()
		if err != nil {
			t.Fatalf("New() error %v", err)
		}
		if !g.Valid(tok) {
			t.Fatalf("Valid(New()) = false for %q", tok)
		}
		u, err := uuid.Parse(tok)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("New() = %q: parse error %v, version %d, variant %v; want a version 4 RFC 9562 UUID", tok, err, u.Version(), u.Variant())
		}
		if seen[tok] {
			t.Fatalf("New() returned %q twice", tok)
		}
		seen[tok] = true
	}
}

func TestValidRejectsOtherShapes(t *testing.T) {
	var g uuidtoken.Generator
	good := "f47ac10b-58cc-4372-a567-0e02b2c3d479"
	if !g.Valid(good) {
		t.Fatalf("Valid(%q) = false, want true", good)
	}
	for _, tok := range []string{
		"",
		strings.ToUpper(good),                    // New issues lowercase only
		"f47ac10b58cc4372a5670e02b2c3d479",       // no hyphens
		"{f47ac10b-58cc-4372-a567-0e02b2c3d479}", // braces
		"urn:uuid:f47ac10b-58cc-4372-a567-0e02b2c3d479",
		"f47ac10b-58cc-1372-a567-0e02b2c3d479",  // version 1
		"f47ac10b-58cc-4372-c567-0e02b2c3d479",  // Microsoft variant
		"f47ac10b-58cc-4372-a567-0e02b2c3d47",   // short
		"f47ac10b-58cc-4372-a567-0e02b2c3d4799", // long
		"f47ac10b-58cc-4372-a567-0e02b2c3d47\x00",
		"f47ac10b-58cc-4372-a567_0e02b2c3d479",
		"../../../../../../../../../etc/passwd",
		"g47ac10b-58cc-4372-a567-0e02b2c3d479",
	} {
		if g.Valid(tok) {
			t.Errorf("Valid(%q) = true, want false", tok)
		}
	}
}

// TestManagerWithUUIDTokens runs a session through a Manager configured
// with UUID tokens: the cookie carries a UUID, the session loads back from
// it, and a well-formed UUID the server never issued is not adopted.
func TestManagerWithUUIDTokens(t *testing.T) {
	st := memory.New(memory.Config{})
	defer st.Close()
	m, err := core.New(core.Config{Store: st, Tokens: uuidtoken.Generator{}})
	if err != nil {
		t.Fatal(err)
	}

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	s := m.Begin(r)
	s.Set("user", "ann")
	h := http.Header{}
	if err := m.Commit(s, h); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	m.Release(s)
	resp := http.Response{Header: h}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !(uuidtoken.Generator{}).Valid(cookies[0].Value) {
		t.Fatalf("Set-Cookie = %v, want one cookie carrying a UUID", h.Values("Set-Cookie"))
	}

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookies[0])
	s = m.Begin(r)
	if v, _ := s.Get("user"); v != "ann" || s.IsNew() {
		t.Fatalf("second request: Get(user) = %v, IsNew = %v; want ann, false", v, s.IsNew())
	}
	m.Release(s)

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: cookies[0].Name, Value: "f47ac10b-58cc-4372-a567-0e02b2c3d479"})
	s = m.Begin(r)
	if _, ok := s.Get("user"); ok || !s.IsNew() {
		t.Fatalf("unknown UUID: IsNew = %v, want a new session (strict mode)", s.IsNew())
	}
	m.Release(s)
}
