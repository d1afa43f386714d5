package core_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// panickyLoadStore is a memory store whose Load panics while panicking
// is set, as a store with a bug would.
type panickyLoadStore struct {
	*memory.Store
	panicking atomic.Bool
}

func (p *panickyLoadStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if p.panicking.Load() {
		panic("store bug")
	}
	return p.Store.Load(ctx, key)
}

// TestPanicDuringLoadDoesNotHang: code that is not the core's and runs
// while the session is being loaded (Config.Init, Config.ClientIP, the
// store's Load) panics at the handler's first use of the session. With
// a recovery middleware inside the session's, the adapter then commits
// and releases the session; with one outside, it releases it. Neither may
// wait forever for the session's lock, and the next request works.
func TestPanicDuringLoadDoesNotHang(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(st *panickyLoadStore, boom *atomic.Bool) core.Config
		arm  func(st *panickyLoadStore, boom *atomic.Bool)
	}{
		{"Init", func(st *panickyLoadStore, boom *atomic.Bool) core.Config {
			return core.Config{Store: st, Init: func(s *core.Session) {
				if boom.Load() {
					panic("Init bug")
				}
				s.Set("theme", "dark")
			}}
		}, func(_ *panickyLoadStore, boom *atomic.Bool) { boom.Store(true) }},
		{"ClientIP", func(st *panickyLoadStore, boom *atomic.Bool) core.Config {
			return core.Config{Store: st, BindClientIP: true, ClientIP: func(r *http.Request) string {
				if boom.Load() {
					panic("ClientIP bug")
				}
				return "192.0.2.1"
			}}
		}, func(_ *panickyLoadStore, boom *atomic.Bool) { boom.Store(true) }},
		{"StoreLoad", func(st *panickyLoadStore, _ *atomic.Bool) core.Config {
			return core.Config{Store: st}
		}, func(st *panickyLoadStore, _ *atomic.Bool) { st.panicking.Store(true) }},
	}
	for _, c := range cases {
		for _, inner := range []bool{true, false} {
			name := c.name + "/recovery-outside"
			if inner {
				name = c.name + "/recovery-inside"
			}
			t.Run(name, func(t *testing.T) {
				st := &panickyLoadStore{Store: memory.New(memory.Config{})}
				t.Cleanup(func() { st.Close() })
				var boom atomic.Bool
				m, err := core.New(c.cfg(st, &boom))
				if err != nil {
					t.Fatal(err)
				}
				request := func(tok string) *http.Request {
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					if tok != "" {
						r.Header.Set("Cookie", "session="+tok)
					}
					return r
				}
				// A stored session, so that the load has a record to read
				// (the ClientIP and Load cases need one).
				s := m.Begin(request(""))
				s.Set("n", 1)
				hdr := http.Header{}
				if err := m.Commit(s, hdr); err != nil {
					t.Fatal(err)
				}
				m.Release(s)
				tok := ""
				for _, ck := range (&http.Response{Header: hdr}).Cookies() {
					tok = ck.Value
				}
				if tok == "" {
					t.Fatal("no cookie for the stored session")
				}
				if c.name == "Init" {
					tok = "" // Init runs for a new session
				}

				c.arm(st, &boom)
				s = m.Begin(request(tok))
				panicked := func() (p any) {
					defer func() { p = recover() }()
					s.Set("cart", 2) // the first use: the load
					return nil
				}()
				if panicked == nil {
					t.Fatalf("the first use of the session did not panic")
				}
				done := make(chan error, 1)
				go func() {
					var err error
					if inner {
						err = m.Commit(s, http.Header{})
					}
					m.Release(s)
					done <- err
				}()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatalf("after a panic in %s during the load, Commit/Release still blocked after 5s (the session's lock stayed held)", c.name)
				}

				// The next request, without the fault, works.
				boom.Store(false)
				st.panicking.Store(false)
				s = m.Begin(request(tok))
				s.Set("after", true)
				if err := m.Commit(s, http.Header{}); err != nil {
					t.Errorf("Commit of the next request = %v, want nil", err)
				}
				m.Release(s)
			})
		}
	}
}
