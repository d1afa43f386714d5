package core_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// plainClientStore is a ClientStore for testing the core's client-side
// path: it encodes (without any protection) name, id, expiry and data in
// the token and keeps a set of revoked session ids.
type plainClientStore struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (p *plainClientStore) Seal(_ context.Context, name, id string, data []byte, exp time.Time) (string, error) {
	b := binary.AppendVarint(nil, exp.UnixNano())
	b = binary.AppendUvarint(b, rand.Uint64()) // a nonce: every token differs, as with a real AEAD
	b = append(binary.AppendUvarint(b, uint64(len(name))), name...)
	b = append(binary.AppendUvarint(b, uint64(len(id))), id...)
	return base64.RawURLEncoding.EncodeToString(append(b, data...)), nil
}

func (p *plainClientStore) Open(_ context.Context, name, tok string) (string, []byte, time.Time, bool, error) {
	id, data, exp, ok := p.parse(name, tok)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !ok || p.revoked[id] {
		return "", nil, time.Time{}, false, nil
	}
	return id, data, exp, true, nil
}

// parse decodes tok, sealed under name, whether revoked or not.
func (p *plainClientStore) parse(name, tok string) (string, []byte, time.Time, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", nil, time.Time{}, false
	}
	exp, n := binary.Varint(b)
	if n <= 0 {
		return "", nil, time.Time{}, false
	}
	b = b[n:]
	if _, n = binary.Uvarint(b); n <= 0 {
		return "", nil, time.Time{}, false
	}
	b = b[n:]
	field := func() (string, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return "", false
		}
		f := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return f, true
	}
	got, ok1 := field()
	id, ok2 := field()
	if !ok1 || !ok2 || got != name {
		return "", nil, time.Time{}, false
	}
	return id, b, time.Unix(0, exp), true
}

func (p *plainClientStore) Revoke(_ context.Context, _, id string, _ time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revoked == nil {
		p.revoked = map[string]bool{}
	}
	p.revoked[id] = true
	return nil
}

func TestClientSideSessions(t *testing.T) {
	cs := &plainClientStore{}
	h := newHarness(t, core.Config{Store: nil, ClientStore: cs})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Get("n") })
	if tok != "" {
		t.Fatal("anonymous read issued a client-side token")
	}
	tok, _ = h.request(t, "", func(s *core.Session) { s.Set("n", 1) })
	if tok == "" {
		t.Fatal("no token for a new client-side session")
	}
	tok2, hdr := h.request(t, tok, func(s *core.Session) { n, _ := core.Value[int](s, "n"); s.Set("n", n+1) })
	if tok2 == tok || hdr.Get("Set-Cookie") == "" {
		t.Fatal("a change did not issue a new client-side token")
	}
	tok3, _ := h.request(t, tok2, func(s *core.Session) { s.Renew() })
	h.request(t, tok3, func(s *core.Session) {
		if n, _ := core.Value[int](s, "n"); n != 2 || s.IsNew() {
			t.Errorf("client-side session after renew: n=%v IsNew=%v, want 2 false", n, s.IsNew())
		}
	})
	for _, old := range []string{tok, tok2} {
		h.request(t, old, func(s *core.Session) {
			if !s.IsNew() {
				t.Error("a token of the session before renew was not revoked (every token of the old id must end)")
			}
		})
	}
	// Logout ends every token the session had since the renew, not only
	// the one presented at logout.
	tok4, _ := h.request(t, tok3, func(s *core.Session) { s.Set("n", 3) })
	if tok4 == tok3 {
		t.Fatal("a change did not issue a new client-side token")
	}
	h.request(t, tok4, func(s *core.Session) { s.Destroy() })
	for _, old := range []string{tok3, tok4} {
		h.request(t, old, func(s *core.Session) {
			if !s.IsNew() {
				t.Error("a token of the session still loads after logout")
			}
		})
	}
	if h.store.Len() != 0 {
		t.Errorf("client-side sessions wrote %d server records", h.store.Len())
	}
}

func TestClientSideCookieTooLarge(t *testing.T) {
	h := newHarness(t, core.Config{Store: nil, ClientStore: &plainClientStore{}})
	s, hdr := h.begin("", "192.0.2.1:1")
	s.Set("big", strings.Repeat("x", 4000))
	if err := h.m.Commit(s, hdr); !errors.Is(err, core.ErrTooLarge) || hdr.Get("Set-Cookie") != "" {
		t.Errorf("Commit(4 kB client session) = %v, Set-Cookie %d bytes; want ErrTooLarge and no cookie", err, len(hdr.Get("Set-Cookie")))
	}
	h.m.Release(s)
	if _, err := core.New(core.Config{Store: h.store, ClientStore: &plainClientStore{}}); err == nil {
		t.Error("New with both Store and ClientStore succeeded")
	}
}

// TestClientSideHeaderTooLarge: with the token in a header, a client-side
// session whose token the next request's load would not read back fails
// the commit with ErrTooLarge, instead of answering 200 with a token that
// opens no session; one that fits round-trips.
func TestClientSideHeaderTooLarge(t *testing.T) {
	h := newHarness(t, core.Config{Store: nil, ClientStore: &plainClientStore{}, Header: "X-Session"})
	request := func(tok, value string) (string, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tok != "" {
			r.Header.Set("X-Session", tok)
		}
		s := h.m.Begin(r)
		defer h.m.Release(s)
		if value != "" {
			s.Set("v", value)
		} else if v, _ := s.Get("v"); v == nil {
			return "", errors.New("no value")
		}
		hdr := http.Header{}
		err := h.m.Commit(s, hdr)
		return hdr.Get("X-Session"), err
	}
	tok, err := request("", strings.Repeat("x", 3000))
	if err != nil || tok == "" {
		t.Fatalf("Commit(3 kB client session) = %v, token %d bytes; want nil and a token", err, len(tok))
	}
	if _, err := request(tok, ""); err != nil {
		t.Errorf("the 3 kB session's token (%d bytes) did not open: %v", len(tok), err)
	}
	tok, err = request("", strings.Repeat("x", 5000))
	if !errors.Is(err, core.ErrTooLarge) || tok != "" {
		t.Errorf("Commit(5 kB client session in a header) = %v, token %d bytes; want ErrTooLarge and no token", err, len(tok))
	}
}

// reusingClientStore returns every opened session's data in one buffer it
// overwrites at the next Open, as ClientStore.Open may (it promises the
// caller no ownership of the slice).
type reusingClientStore struct {
	plainClientStore
	buf []byte
}

func (r *reusingClientStore) Open(ctx context.Context, name, tok string) (string, []byte, time.Time, bool, error) {
	id, data, exp, ok, err := r.plainClientStore.Open(ctx, name, tok)
	for i := range r.buf {
		r.buf[i] = 'X' // what the previous caller got is gone
	}
	r.buf = append(r.buf[:0], data...)
	return id, r.buf, exp, ok, err
}

// TestClientSideDataCopied: values decoded from client-side data do not
// point into the slice ClientStore.Open returned (only a server store's
// Record.Data is the core's to keep), so a store that reuses its buffer
// changes no session already loaded.
func TestClientSideDataCopied(t *testing.T) {
	h := newHarness(t, core.Config{Store: nil, ClientStore: &reusingClientStore{}})
	tokA, _ := h.request(t, "", func(s *core.Session) { s.Set("who", "alice") })
	tokB, _ := h.request(t, "", func(s *core.Session) { s.Set("who", "bobby") })
	a, hdrA := h.begin(tokA, "192.0.2.1:1")
	if v, _ := a.Get("who"); v != "alice" {
		t.Fatalf("who = %v, want alice", v)
	}
	b, hdrB := h.begin(tokB, "192.0.2.1:1")
	if v, _ := b.Get("who"); v != "bobby" {
		t.Fatalf("who = %v, want bobby", v)
	}
	if v, _ := a.Get("who"); v != "alice" {
		t.Errorf("after another session was opened, the first one's who = %q, want alice", v)
	}
	h.commit(t, a, tokA, hdrA)
	h.commit(t, b, tokB, hdrB)
}
