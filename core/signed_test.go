package core_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func sigKey(b byte) []byte { return bytes.Repeat([]byte{b}, core.MinSigningKeySize) }

func TestSigningKeysConfig(t *testing.T) {
	st := memory.New(memory.Config{CleanupInterval: -1})
	defer st.Close()
	for _, keys := range [][][]byte{{}, {sigKey(1)[:31]}, {sigKey(1), nil}} {
		if _, err := core.New(core.Config{Store: st, SigningKeys: keys}); !errors.Is(err, core.ErrConfig) {
			t.Errorf("New(SigningKeys: %d keys, first %d bytes) = %v, want ErrConfig", len(keys), len(append(keys, nil)[0]), err)
		}
	}
	if _, err := core.New(core.Config{Store: st, SigningKeys: [][]byte{sigKey(1)}}); err != nil {
		t.Errorf("New(one 32-byte signing key) = %v", err)
	}
}

// TestSignedTokens runs signed tokens through the Manager: the value is
// token.signature, it loads back, rotation keeps old values working, and a
// bad signature is no session and costs no store call, for the cookie and
// the header transport.
func TestSignedTokens(t *testing.T) {
	for _, header := range []string{"", "X-Session-Token"} {
		t.Run("header="+header, func(t *testing.T) {
			inner := memory.New(memory.Config{CleanupInterval: -1})
			defer inner.Close()
			st := &countingStore{Store: inner}
			e := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{sigKey(7)}, Header: header})
			req := func(value string) hReq {
				if header != "" {
					return hReq{header: []string{value}}
				}
				return hReq{cookies: []string{"session=" + value}}
			}
			value, _ := e.do(t, hReq{fn: func(s *core.Session) { s.Set("user", "ada") }})
			token, sig, ok := strings.Cut(value, ".")
			if !ok || !(core.RandomTokens{}).Valid(token) || len(sig) != 43 {
				t.Fatalf("signed value %q, want token.43-character-signature", value)
			}
			userOf := func(env *hEnv, v string) string {
				var user string
				q := req(v)
				q.fn = func(s *core.Session) { user, _ = core.Value[string](s, "user") }
				env.do(t, q)
				return user
			}
			if u := userOf(e, value); u != "ada" {
				t.Fatalf("the signed value loads user %q, want ada", u)
			}
			rotated := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{sigKey(8), sigKey(7)}, Header: header})
			if u := userOf(rotated, value); u != "ada" {
				t.Errorf("after rotation (new key first, old second) the old value loads %q, want ada", u)
			}
			other := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{sigKey(9)}, Header: header})
			otherValue, _ := other.do(t, hReq{fn: func(s *core.Session) { s.Set("user", "eve") }})
			for _, bad := range []string{
				token,                       // unsigned
				token + ".",                 // empty signature
				value[:len(value)-2] + "AA", // wrong signature
				value + "A",                 // extended
				otherValue,                  // a live session, signed with another key
			} {
				if bad == value {
					continue
				}
				before := st.loads.Load()
				if u := userOf(e, bad); u != "" {
					t.Errorf("a badly signed value loads user %q", u)
				}
				if n := st.loads.Load() - before; n != 0 {
					t.Errorf("a badly signed value cost %d store loads, want 0", n)
				}
			}
		})
	}
}

// Example_signingKeys signs the session cookie with HMAC-SHA256, so that
// only values this server issued are looked up at all.
func Example_signingKeys() {
	store := memory.New(memory.Config{})
	defer store.Close()
	key := bytes.Repeat([]byte{42}, 32) // in production: 32+ bytes from crypto/rand, kept secret
	m, err := core.New(core.Config{Store: store, SigningKeys: [][]byte{key}})
	if err != nil {
		log.Fatal(err)
	}
	serve := func(cookie string, fn func(s *core.Session)) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", "session="+cookie)
		}
		s := m.Begin(r)
		defer m.Release(s)
		fn(s)
		h := http.Header{}
		if err := m.Commit(s, h); err != nil {
			log.Fatal(err)
		}
		if c := (&http.Response{Header: h}).Cookies(); len(c) > 0 {
			return c[0].Value
		}
		return ""
	}
	value := serve("", func(s *core.Session) { s.Set("user", "ada") })
	token, _, _ := strings.Cut(value, ".")
	serve(value, func(s *core.Session) { u, _ := core.Value[string](s, "user"); fmt.Println("signed:", u) })
	serve(token, func(s *core.Session) { fmt.Println("unsigned is new:", s.IsNew()) })
	// Output:
	// signed: ada
	// unsigned is new: true
}
