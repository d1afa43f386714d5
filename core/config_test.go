package core_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	tests := []struct {
		name string
		cfg  core.Config
	}{
		{"no store", core.Config{}},
		{"SameSite=None without Secure", core.Config{Store: st, Cookie: http.Cookie{SameSite: http.SameSiteNoneMode}}},
		{"__Host- with Domain", core.Config{Store: st, Cookie: http.Cookie{Name: "__Host-s", Secure: true, Domain: "example.com"}}},
		{"__Host- without Secure", core.Config{Store: st, Cookie: http.Cookie{Name: "__Host-s"}}},
		{"__Host- with Path", core.Config{Store: st, Cookie: http.Cookie{Name: "__Host-s", Secure: true, Path: "/app"}}},
		{"__Secure- without Secure", core.Config{Store: st, Cookie: http.Cookie{Name: "__Secure-s"}}},
		{"Partitioned without Secure", core.Config{Store: st, Cookie: http.Cookie{Partitioned: true}}},
		{"Max-Age beyond 400 days", core.Config{Store: st, Cookie: http.Cookie{MaxAge: 401 * 24 * 3600}}},
		{"negative Max-Age", core.Config{Store: st, Cookie: http.Cookie{MaxAge: -1}}},
		{"bad cookie name", core.Config{Store: st, Cookie: http.Cookie{Name: "a b"}}},
		{"negative lifetime", core.Config{Store: st, Lifetime: -time.Second}},
		{"negative idle timeout", core.Config{Store: st, IdleTimeout: -time.Second}},
		{"refresh fraction above 1", core.Config{Store: st, IdleRefreshFraction: 1.5}},
		{"bad header name", core.Config{Store: st, Header: "X Token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := core.New(tt.cfg)
			if !errors.Is(err, core.ErrConfig) {
				t.Fatalf("New(%s) = %v, %v; want an error wrapping ErrConfig", tt.name, m, err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	m, err := core.New(core.Config{Store: st, Cookie: http.Cookie{HttpOnly: false, Value: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	if c.Cookie.Name != "session" || c.Cookie.Path != "/" || c.Cookie.SameSite != http.SameSiteLaxMode || !c.Cookie.HttpOnly || c.Cookie.Value != "" {
		t.Errorf("cookie defaults = %+v, want session, /, Lax, HttpOnly, no value", c.Cookie)
	}
	if c.Lifetime != 24*time.Hour || c.IdleTimeout != 0 || c.IdleRefreshFraction != 0.1 {
		t.Errorf("durations = %v %v %v, want 24h 0 0.1", c.Lifetime, c.IdleTimeout, c.IdleRefreshFraction)
	}
	if _, ok := c.Codec.(core.BinaryCodec); !ok {
		t.Errorf("Codec = %T, want BinaryCodec", c.Codec)
	}
	if c.MaxRecordSize != core.DefaultMaxRecordSize || c.ManualSave || c.AdoptUnknownTokens || c.BindClientIP {
		t.Errorf("flags = %+v, want 1 MiB, autosave, strict, unbound", c)
	}
	// A valid __Host- configuration is accepted.
	if _, err := core.New(core.Config{Store: st, Cookie: http.Cookie{Name: "__Host-s", Secure: true, SameSite: http.SameSiteNoneMode}}); err != nil {
		t.Errorf("New(__Host- Secure SameSite=None) = %v, want nil", err)
	}
}
