package core_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit/core"
)

// BenchmarkObserverHooks measures what the Observer hooks cost: the
// BenchmarkManager* cycles (Begin, use, Commit, Release on a memory store)
// with Config.Observer unset and set to an Observer that does nothing but
// count its store calls (core.NopObserver plus one atomic add, checked so
// that the benchmark cannot measure a Manager that lost its Observer). The
// difference is the hooks' own cost (the interface calls and the observed
// store wrapper); unset, each hook is a nil check, so the difference bounds
// what they cost a Manager without an Observer.
// The names are use=<untouched|get|update>/observer=<unset|nop>, the two
// observers of a use run one after the other, for benchstat -col /observer
// (bench/modules.sh).
func BenchmarkObserverHooks(b *testing.B) {
	uses := []struct {
		name string
		use  func(b *testing.B, s *core.Session)
	}{
		{"untouched", func(*testing.B, *core.Session) {}},
		{"get", func(b *testing.B, s *core.Session) {
			if v, _ := s.Get("user"); v != "gopher" {
				b.Fatalf("Get(user) = %v, want gopher", v)
			}
		}},
		{"update", func(_ *testing.B, s *core.Session) {
			n, _ := core.Value[int](s, "visits")
			s.Set("visits", n+1)
		}},
	}
	for _, u := range uses {
		for _, observed := range []bool{false, true} {
			name := "unset"
			if observed {
				name = "nop"
			}
			b.Run("use="+u.name+"/observer="+name, func(b *testing.B) {
				m, req := benchManager(b)
				obs := &callCounter{}
				if observed {
					cfg := m.Config()
					cfg.Observer = obs
					var err error
					if m, err = core.New(cfg); err != nil {
						b.Fatal(err)
					}
				}
				h := make(http.Header)
				b.ReportAllocs()
				for b.Loop() {
					clear(h)
					s := m.Begin(req)
					u.use(b, s)
					if err := m.Commit(s, h); err != nil {
						b.Fatal(err)
					}
					m.Release(s)
				}
				if observed && u.name != "untouched" && obs.calls.Load() == 0 {
					b.Fatal("the Observer saw no store call")
				}
			})
		}
	}
}

// callCounter is an Observer that counts finished store calls.
type callCounter struct {
	core.NopObserver
	calls atomic.Int64
}

func (c *callCounter) StoreCallFinished(context.Context, core.StoreCallEvent) { c.calls.Add(1) }
