package core

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fuzzStore is a minimal map Store for the internal tests and fuzz
// targets (which cannot import stores/memory: it imports core). It counts
// loads; every write gives its record the next version.
type fuzzStore struct {
	mu    sync.Mutex
	recs  map[string]Record
	loads int
	v     uint64
}

func (s *fuzzStore) Load(_ context.Context, key string) (Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	r, ok := s.recs[key]
	if !ok || !time.Now().Before(r.Expiry) {
		return Record{}, false, nil
	}
	r.Data = append([]byte(nil), r.Data...)
	return r, true, nil
}

func (s *fuzzStore) Save(_ context.Context, key string, data []byte, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(key, data, exp)
	return nil
}

// put stores a copy of data under key with the next version; s.mu is held.
func (s *fuzzStore) put(key string, data []byte, exp time.Time) uint64 {
	if s.recs == nil {
		s.recs = map[string]Record{}
	}
	s.v++
	s.recs[key] = Record{Data: append([]byte(nil), data...), Expiry: exp, Version: s.v}
	return s.v
}

func (s *fuzzStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, key)
	return nil
}

func (s *fuzzStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

func fuzzManager(tb testing.TB, cfg Config) (*Manager, *fuzzStore) {
	tb.Helper()
	st := &fuzzStore{}
	cfg.Store = st
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return m, st
}

// FuzzTokenParse feeds arbitrary Cookie header lines to the cookie parser
// and arbitrary strings to RandomTokens.Valid: neither may panic, a token
// the parser returns as valid must be one of the presented values, and
// every token Valid accepts must be canonical (it decodes to 32 bytes that
// encode back to the same string).
func FuzzTokenParse(f *testing.F) {
	tok, _ := RandomTokens{}.New()
	for _, seed := range []string{
		"session=" + tok,
		"a=b; session=" + tok + "; c=d",
		`session="` + tok + `"`,
		"session=" + tok[:42] + "B",
		"session=x; session=" + tok,
		"session=%00%2F..%2Fetc",
		"session=" + strings.Repeat("ü", 21) + "x",
		"session",
		";;;=;session==;",
	} {
		f.Add(seed, tok)
	}
	m, _ := fuzzManager(f, Config{})
	f.Fuzz(func(t *testing.T, line, s string) {
		if (RandomTokens{}).Valid(s) {
			b, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != s {
				t.Fatalf("Valid(%q) = true for a non-canonical token", s)
			}
		}
		got, valid := m.cookieToken([]string{line, s})
		if valid != (RandomTokens{}).Valid(got) {
			t.Fatalf("cookieToken(%q, %q) = %q, valid %v; Valid says %v", line, s, got, valid, !valid)
		}
		if got == "" {
			return
		}
		if !strings.Contains(line, got) && !strings.Contains(s, got) {
			t.Fatalf("cookieToken(%q, %q) = %q, which the client did not send", line, s, got)
		}
		if strings.ContainsAny(got, ";") {
			t.Fatalf("cookieToken(%q, %q) = %q spans a cookie separator", line, s, got)
		}
	})
}

// FuzzHeaderTransport sends arbitrary token header values (one or two of
// them) through Begin, Get, Set and Commit: never a panic or an error, and
// the session is always fresh (strict mode adopts nothing the client chose).
func FuzzHeaderTransport(f *testing.F) {
	tok, _ := RandomTokens{}.New()
	for _, seed := range [][2]string{
		{tok, ""}, {tok, tok}, {" " + tok + " ", ""}, {"", ""},
		{"\x00", ""}, {"../../etc/passwd", ""}, {strings.Repeat("A", 43), ""},
		{"%41%41", "x"}, {strings.Repeat("€", 100), ""},
	} {
		f.Add(seed[0], seed[1])
	}
	m, st := fuzzManager(f, Config{Header: "X-Session-Token"})
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["X-Session-Token"] = []string{v1}
		if v2 != "" {
			r.Header["X-Session-Token"] = append(r.Header["X-Session-Token"], v2)
		}
		s := m.Begin(r)
		defer m.Release(s)
		if _, ok := s.Get("a"); ok || !s.IsNew() {
			t.Fatalf("header %q, %q: a session that the client chose was loaded", v1, v2)
		}
		s.Set("a", 1)
		h := http.Header{}
		if err := m.Commit(s, h); err != nil {
			t.Fatalf("header %q, %q: Commit = %v", v1, v2, err)
		}
		got := h.Get("X-Session-Token")
		if !(RandomTokens{}).Valid(got) || got == strings.TrimSpace(v1) || got == v2 {
			t.Fatalf("header %q, %q: response token %q, want a fresh one", v1, v2, got)
		}
		_ = st.Delete(context.Background(), StoreKey(got)) // keep the store small
	})
}

// TestFuzzStoreStaysSmall checks the fuzz helper itself: the header fuzz
// target deletes what it creates, so long runs do not grow the store.
func TestFuzzStoreStaysSmall(t *testing.T) {
	m, st := fuzzManager(t, Config{Header: "X-Session-Token"})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	s := m.Begin(r)
	s.Set("a", 1)
	h := http.Header{}
	if err := m.Commit(s, h); err != nil {
		t.Fatal(err)
	}
	m.Release(s)
	if st.len() != 1 {
		t.Fatalf("store holds %d records after one commit, want 1", st.len())
	}
	_ = st.Delete(context.Background(), StoreKey(h.Get("X-Session-Token")))
	if st.len() != 0 {
		t.Fatalf("store holds %d records after Delete, want 0", st.len())
	}
}

// Signed tokens: the signer's own tests and its fuzz target.

func signingKey(b byte) []byte { return bytes.Repeat([]byte{b}, MinSigningKeySize) }

func TestSignerRoundTrip(t *testing.T) {
	sg := newSigner("session", [][]byte{signingKey(1)})
	tok, _ := RandomTokens{}.New()
	v := sg.sign(tok)
	if !strings.HasPrefix(v, tok+".") || len(v) != len(tok)+1+sigLen {
		t.Fatalf("sign(%q) = %q, want token.43-character-signature", tok, v)
	}
	if got, ok := sg.verify(v); !ok || got != tok {
		t.Fatalf("verify(sign(tok)) = %q, %v; want tok, true", got, ok)
	}
	for _, c := range []struct{ label, v string }{
		{"unsigned", tok},
		{"empty signature", tok + "."},
		{"other name", newSigner("other", [][]byte{signingKey(1)}).sign(tok)},
		{"other key", newSigner("session", [][]byte{signingKey(2)}).sign(tok)},
		{"other token", tok[:42] + "A" + v[len(tok):]},
		{"truncated", v[:len(v)-1]},
		{"extended", v + "A"},
		{"non-canonical last character", v[:len(v)-1] + string(v[len(v)-1]+1)},
		{"padded", v + "="},
	} {
		if c.v == v {
			continue // the mutation happened to change nothing
		}
		if _, ok := sg.verify(c.v); ok {
			t.Errorf("verify(%s) = ok, want rejected", c.label)
		}
	}
}

func TestSignerRotation(t *testing.T) {
	oldKey, newKey := signingKey(1), signingKey(2)
	tok, _ := RandomTokens{}.New()
	signedOld := newSigner("session", [][]byte{oldKey}).sign(tok)
	rotated := newSigner("session", [][]byte{newKey, oldKey})
	if got, ok := rotated.verify(signedOld); !ok || got != tok {
		t.Fatalf("verify(value signed with the old key) after rotation = %q, %v; want tok, true", got, ok)
	}
	if v := rotated.sign(tok); v == signedOld {
		t.Fatal("sign after rotation used the old key, want the first key")
	}
	if _, ok := newSigner("session", [][]byte{newKey}).verify(signedOld); ok {
		t.Fatal("verify accepted a value signed with a key that was removed")
	}
}

// FuzzSignedToken checks verify on arbitrary input (no panic; whatever it
// accepts is exactly what sign produces for the token, so each token has
// one signed form) and that sign/verify round-trip for arbitrary tokens
// while a one-byte change is rejected.
func FuzzSignedToken(f *testing.F) {
	sg := newSigner("session", [][]byte{signingKey(3), signingKey(4)})
	tok, _ := RandomTokens{}.New()
	f.Add(sg.sign(tok), tok, uint8(0), byte(1))
	f.Add(tok+"."+strings.Repeat("A", sigLen), "x", uint8(50), byte(0x20))
	f.Add("..", "", uint8(1), byte(0))
	f.Add(newSigner("session", [][]byte{signingKey(4)}).sign("old"), "a.b", uint8(3), byte('.'))
	f.Fuzz(func(t *testing.T, value, token string, pos uint8, x byte) {
		if got, ok := sg.verify(value); ok {
			if sg.sign(got) != value && !verifiesWithSecondKey(got, value) {
				t.Fatalf("verify(%q) accepted a value sign does not produce", value)
			}
		}
		v := sg.sign(token)
		got, ok := sg.verify(v)
		if !ok || got != token {
			t.Fatalf("verify(sign(%q)) = %q, %v", token, got, ok)
		}
		b := []byte(v)
		b[int(pos)%len(b)] ^= x
		if m := string(b); m != v {
			if got, ok := sg.verify(m); ok {
				t.Fatalf("verify(%q, mutated from %q) = %q, ok", m, v, got)
			}
		}
	})
}

// verifiesWithSecondKey reports whether value is token signed with the
// fuzz target's second (rotated-out) key.
func verifiesWithSecondKey(token, value string) bool {
	return newSigner("session", [][]byte{signingKey(4)}).sign(token) == value
}

func TestSigLen(t *testing.T) {
	if n := base64.RawURLEncoding.EncodedLen(32); n != sigLen {
		t.Fatalf("sigLen = %d, want %d", sigLen, n)
	}
}
