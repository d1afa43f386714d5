package echosession_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	echosession "github.com/sessionkit/sessionkit/adapters/echo"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// benchSetup returns an engine serving h behind the middleware, the store
// calls counter, and a request carrying the cookie of a stored session of
// ten values of mixed types (the same session as adapters/nethttp's
// benchmarks).
func benchSetup(b *testing.B, h echo.HandlerFunc) (http.Handler, *conformance.FaultyStore, *http.Request) {
	b.Helper()
	st := memory.New(memory.Config{CleanupInterval: -1})
	b.Cleanup(func() { _ = st.Close() })
	faulty := conformance.NewFaultyStore(st)
	m, err := core.New(core.Config{Store: faulty.Store()})
	if err != nil {
		b.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seed := newEcho()
	seed.Use(echosession.Middleware(m))
	seed.GET("/", func(c echo.Context) error {
		s := echosession.Get(c)
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
		return nil
	})
	rec := httptest.NewRecorder()
	seed.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("seeding the session: %d cookies, want 1", len(cookies))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", cookies[0].Name+"="+cookies[0].Value)
	faulty.ResetCalls()
	e := newEcho()
	e.Use(echosession.Middleware(m))
	e.GET("/", h)
	return e, faulty, req
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
func benchServe(b *testing.B, h http.Handler, req *http.Request) {
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
	}
}

func okHandler(c echo.Context) error {
	_, err := c.Response().Write(ok)
	return err
}

var ok = []byte("ok")

// BenchmarkBare is Echo alone, without the middleware.
func BenchmarkBare(b *testing.B) {
	r := newEcho()
	r.GET("/", okHandler)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	benchServe(b, r, req)
}

// BenchmarkBareMiddleware is the bare handler behind a middleware that does
// nothing: Echo v4 builds the closure chain of e.Use middleware on every
// request, one allocation per middleware, which any Echo middleware pays.
func BenchmarkBareMiddleware(b *testing.B) {
	r := newEcho()
	r.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return next(c) }
	})
	r.GET("/", okHandler)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	benchServe(b, r, req)
}

func BenchmarkUntouched(b *testing.B) {
	h, faulty, req := benchSetup(b, okHandler)
	benchServe(b, h, req)
	if n := faulty.TotalCalls(); n != 0 {
		b.Errorf("store calls = %d, want 0", n)
	}
}

func BenchmarkRead(b *testing.B) {
	h, _, req := benchSetup(b, func(c echo.Context) error {
		if v, _ := core.Value[string](echosession.Get(c), "user"); v != "gopher" {
			return c.NoContent(http.StatusInternalServerError)
		}
		return okHandler(c)
	})
	benchServe(b, h, req)
}

func BenchmarkUpdate(b *testing.B) {
	h, _, req := benchSetup(b, func(c echo.Context) error {
		s := echosession.Get(c)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
		return okHandler(c)
	})
	benchServe(b, h, req)
}
