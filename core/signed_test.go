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
