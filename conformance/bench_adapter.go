package conformance

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// BenchmarkAdapter measures the adapter that mount installs, with a memory
// store, in four sub-benchmarks, allocations reported:
//
//   - Untouched: the client presents a stored session and the handler never
//     touches it (it must cost no store call: the benchmark fails otherwise);
//   - Read: one value read from a stored ten-value session;
//   - Update: one value of that session changed;
//   - Renew: the session renewed, the next request presenting the new token.
//
// Every handler writes "ok". Compare the numbers with BenchmarkHandler on
// the framework's bare handler to see what the adapter and the core add:
//
//	func BenchmarkBare(b *testing.B)    { conformance.BenchmarkHandler(b, bareEngine()) }
//	func BenchmarkAdapter(b *testing.B) { conformance.BenchmarkAdapter(b, mount) }
//
// The response writer is reused across iterations and, unlike
// httptest.ResponseRecorder, copies nothing, so the allocations measured
// are the framework's, the adapter's and the core's only.
func BenchmarkAdapter(b *testing.B, mount Mount) {
	b.Run("Untouched", func(b *testing.B) {
		h, faulty, req := benchAdapterSetup(b, mount)
		faulty.ResetCalls()
		req.URL.Path = "/untouched"
		benchServe(b, h, req, nil)
		if n := faulty.TotalCalls(); n != 0 {
			b.Errorf("untouched session: %d store calls, want 0 (rule: lazy load)", n)
		}
	})
	b.Run("Read", func(b *testing.B) {
		h, _, req := benchAdapterSetup(b, mount)
		req.URL.Path = "/read"
		benchServe(b, h, req, nil)
	})
	b.Run("Update", func(b *testing.B) {
		h, _, req := benchAdapterSetup(b, mount)
		req.URL.Path = "/update"
		benchServe(b, h, req, nil)
	})
	b.Run("Renew", func(b *testing.B) {
		h, _, req := benchAdapterSetup(b, mount)
		req.URL.Path = "/renew"
		benchServe(b, h, req, func(w *benchWriter) {
			// The old token is gone: carry the new one to the next request.
			b.StopTimer()
			v := w.h.Get("Set-Cookie")
			if i := strings.IndexByte(v, ';'); i >= 0 {
				v = v[:i]
			}
			req.Header["Cookie"][0] = v
			b.StartTimer()
		})
	})
}

// BenchmarkHandler measures h on the request BenchmarkAdapter sends (GET
// with a session cookie), with the same reused response writer: the
// baseline for BenchmarkAdapter. h must answer 200.
func BenchmarkHandler(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/untouched", nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	benchServe(b, h, req, nil)
}

// benchHandler serves the benchmark routes of BenchmarkAdapter.
func benchHandler(w http.ResponseWriter, r *http.Request, s *core.Session) {
	switch r.URL.Path {
	case "/seed":
		created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		s.Set("user", "gopher")
		s.Set("email", "gopher@example.com")
		s.Set("role", "admin")
		s.Set("theme", "dark")
		s.Set("id", 4711)
		s.Set("visits", 42)
		s.Set("cart", int64(3))
		s.Set("admin", true)
		s.Set("verified", false)
		s.Set("login", created)
	case "/read":
		if v, _ := core.Value[string](s, "user"); v != "gopher" {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
	case "/update":
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
	case "/renew":
		if s.IsNew() {
			http.Error(w, "session lost", http.StatusInternalServerError)
			return
		}
		s.Renew()
	}
	_, _ = io.WriteString(w, "ok")
}

// benchAdapterSetup mounts the benchmark routes for a fresh Manager on a
// memory store and returns the handler, the store's call counter and a
// request carrying the cookie of a stored ten-value session.
func benchAdapterSetup(b *testing.B, mount Mount) (http.Handler, *FaultyStore, *http.Request) {
	b.Helper()
	st := memory.New(memory.Config{CleanupInterval: -1})
	b.Cleanup(func() { _ = st.Close() })
	faulty := NewFaultyStore(st)
	m, err := core.New(core.Config{Store: faulty.Store()})
	if err != nil {
		b.Fatal(err)
	}
	h := mount(m, benchHandler)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/seed", nil))
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusOK || len(cookies) != 1 {
		b.Fatalf("seeding the session: status %d, %d cookies; want 200 and 1", rec.Code, len(cookies))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", cookies[0].Name+"="+cookies[0].Value)
	return h, faulty, req
}

// benchWriter is a minimal http.ResponseWriter reused across iterations.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

// benchServe serves req with h b.N times, reusing one response writer, and
// calls after (when set) following each request.
func benchServe(b *testing.B, h http.Handler, req *http.Request, after func(w *benchWriter)) {
	b.Helper()
	w := &benchWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.code, w.n = 0, 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("GET %s: status %d, want 200", req.URL.Path, w.code)
		}
		if after != nil {
			after(w)
		}
	}
}
