package nethttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// benchSetup returns a handler serving h behind the middleware, the store
// calls counter, and a request carrying the cookie of a stored session of
// ten values of mixed types.
func benchSetup(b *testing.B, h http.HandlerFunc) (http.Handler, *conformance.FaultyStore, *http.Request) {
	b.Helper()
	st := memory.New(memory.Config{CleanupInterval: -1})
	b.Cleanup(func() { _ = st.Close() })
	faulty := conformance.NewFaultyStore(st)
	m, err := core.New(core.Config{Store: faulty.Store()})
	if err != nil {
		b.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seed := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
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
	}))
	rec := httptest.NewRecorder()
	seed.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("seeding the session: %d cookies, want 1", len(cookies))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", cookies[0].Name+"="+cookies[0].Value)
	faulty.ResetCalls()
	return nethttp.Middleware(m)(h), faulty, req
}

// benchWriter is a minimal http.ResponseWriter reused across iterations.
// Unlike httptest.ResponseRecorder it does not copy the header map on
// WriteHeader, so the measured allocations are the handler's and the
// middleware's only, as with a real server's response.
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

// benchServe serves req with h b.N times, reusing one response writer.
func benchServe(b *testing.B, h http.Handler, req *http.Request, after func(w *benchWriter)) {
	b.Helper()
	w := &benchWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.code, w.n = 0, 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
		if after != nil {
			after(w)
		}
	}
}

func okHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

func BenchmarkBare(b *testing.B) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	benchServe(b, http.HandlerFunc(okHandler), req, nil)
}

func BenchmarkUntouched(b *testing.B) {
	h, faulty, req := benchSetup(b, okHandler)
	benchServe(b, h, req, nil)
	if n := faulty.TotalCalls(); n != 0 {
		b.Errorf("store calls = %d, want 0", n)
	}
}

func BenchmarkRead(b *testing.B) {
	h, _, req := benchSetup(b, func(w http.ResponseWriter, r *http.Request) {
		if v, _ := core.Value[string](nethttp.Get(r), "user"); v != "gopher" {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	benchServe(b, h, req, nil)
}

func BenchmarkUpdate(b *testing.B) {
	h, _, req := benchSetup(b, func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
		io.WriteString(w, "ok")
	})
	benchServe(b, h, req, nil)
}

func BenchmarkRenew(b *testing.B) {
	h, _, req := benchSetup(b, func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		if s.IsNew() {
			http.Error(w, "session lost", http.StatusInternalServerError)
			return
		}
		s.Renew()
		io.WriteString(w, "ok")
	})
	benchServe(b, h, req, func(rec *benchWriter) {
		// The old token is gone: carry the new one to the next request.
		b.StopTimer()
		v := rec.Header().Get("Set-Cookie")
		if i := strings.IndexByte(v, ';'); i >= 0 {
			v = v[:i]
		}
		req.Header["Cookie"][0] = v
		b.StartTimer()
	})
}
