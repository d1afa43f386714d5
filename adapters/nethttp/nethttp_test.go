package nethttp_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/adaptertest"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// mountNetHTTP mounts h behind the net/http middleware.
func mountNetHTTP(m *core.Manager, h conformance.Handler) http.Handler {
	return nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, nethttp.Get(r))
	}))
}

func TestConformance(t *testing.T) {
	conformance.TestAdapter(t, mountNetHTTP)
}

func TestGetWithoutMiddlewarePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("nethttp.Get(request without the middleware) did not panic, want a panic naming the missing middleware")
		}
	}()
	nethttp.Get(httptest.NewRequest(http.MethodGet, "/", nil))
}

func TestWritesAfterFailedCommit(t *testing.T) {
	faulty := conformance.NewFaultyStore(memory.New(memory.Config{CleanupInterval: -1}))
	faulty.FailOp(conformance.OpCompareAndSwap, nil)
	m, err := core.New(core.Config{Store: faulty.Store(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var writeErr, flushErr error
	h := mountNetHTTP(m, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		s.Set("a", 1)
		_, writeErr = io.WriteString(w, "first")
		_, _ = io.WriteString(w, "second")
		flushErr = http.NewResponseController(w).Flush()
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "first") || strings.Contains(rec.Body.String(), "second") {
		t.Errorf("body = %q, want the error handler's body only", rec.Body.String())
	}
	if !errors.Is(writeErr, nethttp.ErrResponseFailed) {
		t.Errorf("Write after a failed commit = %v, want ErrResponseFailed", writeErr)
	}
	if !errors.Is(flushErr, nethttp.ErrResponseFailed) {
		t.Errorf("Flush after a failed commit = %v, want ErrResponseFailed", flushErr)
	}
}

func TestNestedManagers(t *testing.T) {
	st := memory.New(memory.Config{CleanupInterval: -1})
	defer st.Close()
	outer, err := core.New(core.Config{Store: st, Cookie: http.Cookie{Name: "outer"}})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := core.New(core.Config{Store: st, Cookie: http.Cookie{Name: "inner"}})
	if err != nil {
		t.Fatal(err)
	}
	h := nethttp.Middleware(outer)(nethttp.Middleware(inner)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		so, _ := outer.FromContext(r.Context())
		si, _ := inner.FromContext(r.Context())
		if so == nil || si == nil || so == si || nethttp.Get(r) != si {
			t.Errorf("sessions outer=%p inner=%p Get=%p, want two distinct sessions, Get returning the inner", so, si, nethttp.Get(r))
		}
		so.Set("o", 1)
		si.Set("i", 1)
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	names := map[string]bool{}
	for _, c := range rec.Result().Cookies() {
		names[c.Name] = true
	}
	if !names["outer"] || !names["inner"] {
		t.Errorf("cookies = %v, want both outer and inner", names)
	}
}

// TestFailureLogged checks that a failed load or save is logged.
func TestFailureLogged(t *testing.T) {
	adaptertest.TestFailureLogged(t, mountNetHTTP)
}

// TestObserver checks that every core.Observer event fires exactly once
// per occurrence behind this adapter.
func TestObserver(t *testing.T) {
	conformance.TestObserver(t, mountNetHTTP)
}

// TestRetainedWriterReachesNoOtherResponse: a handler that keeps its
// ResponseWriter past its request writes to its own response, never to a
// later request's. The middleware's wrapper is part of the request's own
// allocation; a wrapper taken from a pool would be the next request's by
// then.
func TestRetainedWriterReachesNoOtherResponse(t *testing.T) {
	m, _ := adaptertest.NewManager(t)
	var kept http.ResponseWriter
	mux := http.NewServeMux()
	mux.HandleFunc("GET /keep", func(w http.ResponseWriter, _ *http.Request) {
		kept = w
		_, _ = io.WriteString(w, "kept")
	})
	mux.HandleFunc("GET /other", func(w http.ResponseWriter, r *http.Request) {
		nethttp.Get(r).Set("n", 1)
		kept.Header().Set("X-Late", "1")
		_, _ = io.WriteString(kept, "late")
		_, _ = io.WriteString(w, "other")
	})
	adaptertest.CheckRetainedWriter(t, nethttp.Middleware(m)(mux))
}
