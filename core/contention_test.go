package core_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/file"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// casCounter counts the CompareAndSwap calls made through it.
type casCounter struct {
	core.Store
	cas   core.CompareAndSwapper
	calls atomic.Int64
}

func (c *casCounter) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	c.calls.Add(1)
	return c.cas.CompareAndSwap(ctx, key, version, data, expiry)
}

func newCASCounter(st core.Store) *casCounter {
	return &casCounter{Store: st, cas: st.(core.CompareAndSwapper)}
}

// contentionStores returns the stores the contention tests run on.
func contentionStores(t *testing.T) map[string]func(t *testing.T) core.Store {
	return map[string]func(t *testing.T) core.Store{
		"memory": func(t *testing.T) core.Store {
			st := memory.New(memory.Config{CleanupInterval: -1})
			t.Cleanup(func() { st.Close() })
			return st
		},
		"file": func(t *testing.T) core.Store {
			st, err := file.New(file.Config{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
}

// contend runs writers goroutines that each commit keys distinct keys to
// one session, one request after the other, and reports the failed
// commits, the keys missing afterwards and the CompareAndSwap calls per
// successful write.
func contend(t *testing.T, st core.Store, writers, keys int) (failed, lost int, perWrite float64) {
	t.Helper()
	cs := newCASCounter(st)
	m, err := core.New(core.Config{Store: cs})
	if err != nil {
		t.Fatal(err)
	}
	cookie := contentionRequest(t, m, "", func(s *core.Session) { s.Set("base", 1) })
	if cookie == "" {
		t.Fatal("seeding: no cookie")
	}
	cs.calls.Store(0)
	var nfailed atomic.Int64
	var errOnce sync.Once
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for k := range keys {
				s := m.Begin(contentionReq(cookie))
				s.Set(fmt.Sprintf("w%02dk%02d", w, k), k)
				if err := m.Commit(s, http.Header{}); err != nil {
					nfailed.Add(1)
					errOnce.Do(func() { t.Logf("first failed commit: %v", err) })
				}
				m.Release(s)
			}
		})
	}
	wg.Wait()
	calls := cs.calls.Load()
	contentionRequest(t, m, cookie, func(s *core.Session) {
		for w := range writers {
			for k := range keys {
				if _, ok := s.Get(fmt.Sprintf("w%02dk%02d", w, k)); !ok {
					lost++
				}
			}
		}
	})
	ok := writers*keys - int(nfailed.Load())
	return int(nfailed.Load()), lost, float64(calls) / float64(max(ok, 1))
}

func contentionReq(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", "session="+cookie)
	}
	return r
}

// contentionRequest runs fn as one request and returns the session cookie
// the client holds afterwards.
func contentionRequest(t *testing.T, m *core.Manager, cookie string, fn func(s *core.Session)) string {
	t.Helper()
	s := m.Begin(contentionReq(cookie))
	fn(s)
	h := http.Header{}
	if err := m.Commit(s, h); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	m.Release(s)
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "session" {
			return c.Value
		}
	}
	return cookie
}

// TestContentionBackToBack is the first report: 16 clients each
// committing 8 distinct keys back to back on one session.
func TestContentionBackToBack(t *testing.T) {
	for name, newStore := range contentionStores(t) {
		t.Run(name, func(t *testing.T) {
			failed, lost, per := contend(t, newStore(t), 16, 8)
			t.Logf("%s, 16 writers: %.2f CompareAndSwap calls per successful write", name, per)
			if failed != 0 || lost != 0 {
				t.Errorf("16 writers x 8 keys on one session: %d failed commits, %d lost keys; want 0, 0", failed, lost)
			}
		})
	}
}

// TestContentionScale is the scale: 64 concurrent clients x 16
// distinct keys on one session (16 x 8 with -short).
func TestContentionScale(t *testing.T) {
	writers, keys := 64, 16
	if testing.Short() {
		writers, keys = 16, 8
	}
	for name, newStore := range contentionStores(t) {
		t.Run(name, func(t *testing.T) {
			failed, lost, per := contend(t, newStore(t), writers, keys)
			t.Logf("%s, %d writers: %.2f CompareAndSwap calls per successful write", name, writers, per)
			if failed != 0 || lost != 0 {
				t.Errorf("%d writers x %d keys on one session: %d failed commits, %d lost keys; want 0, 0", writers, keys, failed, lost)
			}
		})
	}
}
