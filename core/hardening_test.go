package core_test

import (
	"net/http"
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/file"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// The hardening attacks (conformance.TestHardening) run here on the stores
// of this module; every other store module runs them on its own store.

func TestHardeningMemory(t *testing.T) {
	conformance.TestHardening(t, func(t *testing.T) core.Store {
		st := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestHardeningFile(t *testing.T) {
	conformance.TestHardening(t, func(t *testing.T) core.Store {
		st, err := file.New(file.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestHardeningCookiePrefixes(t *testing.T) {
	st := memory.New(memory.Config{CleanupInterval: -1})
	defer st.Close()
	for _, c := range []struct {
		label string
		ck    http.Cookie
		ok    bool
	}{
		{"__Host- valid", http.Cookie{Name: "__Host-s", Secure: true}, true},
		{"__Host- without Secure", http.Cookie{Name: "__Host-s"}, false},
		{"__Host- with Domain", http.Cookie{Name: "__Host-s", Secure: true, Domain: "example.com"}, false},
		{"__Host- with Path", http.Cookie{Name: "__Host-s", Secure: true, Path: "/app"}, false},
		{"__host- (prefixes match case-insensitively) without Secure", http.Cookie{Name: "__host-s"}, false},
		{"__HOST- with Domain", http.Cookie{Name: "__HOST-s", Secure: true, Domain: "example.com"}, false},
		{"__Secure- valid with Domain and Path", http.Cookie{Name: "__Secure-s", Secure: true, Domain: "example.com", Path: "/app"}, true},
		{"__Secure- without Secure", http.Cookie{Name: "__Secure-s"}, false},
		{"__secure- without Secure", http.Cookie{Name: "__secure-s"}, false},
		{"plain name without Secure", http.Cookie{Name: "s"}, true},
	} {
		_, err := core.New(core.Config{Store: st, Cookie: c.ck})
		if (err == nil) != c.ok {
			t.Errorf("New(%s) = %v, want ok=%v", c.label, err, c.ok)
		}
	}
}
