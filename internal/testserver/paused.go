package testserver

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
)

// PausedStoreTimeout is the core.Config.StoreTimeout of the Manager that
// CheckPausedRequest drives: the core, not the request or the client
// library, bounds each store call while the server is paused. The requests
// themselves carry no deadline.
const PausedStoreTimeout = time.Second

// pausedHangLimit is how long CheckPausedRequest lets a request run before
// declaring that it hangs: far beyond PausedStoreTimeout, so that a slow
// machine never fails the test, yet short of the minutes a paused server
// would otherwise hold the request.
const pausedHangLimit = 30 * time.Second

// CheckPausedRequest checks that a request through a core.Manager on s and
// the net/http middleware gets a clean answer from the error handler, and
// no session cookie, when the store's server hangs mid-request: first with
// the server paused before the request (the load hangs), then with the
// server paused by the handler after the session was loaded (the commit
// hangs). pause freezes the server (Server.Pause, Proxy.Hold), resume thaws
// it; after resume the same Manager serves the session again. pause
// registers resume as a cleanup of t (Server.Pause and Proxy.Hold do), so
// that a failure while the server is paused does not hang the cleanups.
func CheckPausedRequest(t *testing.T, s core.Store, pause, resume func()) {
	t.Helper()
	var mu sync.Mutex
	var handled []error
	m, err := core.New(core.Config{
		Store:        s,
		StoreTimeout: PausedStoreTimeout,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			handled = append(handled, err)
			mu.Unlock()
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var pauseInHandler bool
	h := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := nethttp.Get(r)
		n, _ := core.Value[int](sess, "n")
		if pauseInHandler {
			pause()
		}
		sess.Set("n", n+1)
		_, _ = w.Write([]byte("ok"))
	}))
	serve := func(cookie string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", nil) // no deadline: the core's StoreTimeout bounds the calls
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		_ = Within(t, pausedHangLimit, "a request with the store's server paused", func() error {
			h.ServeHTTP(w, r)
			return nil
		})
		return w
	}
	first := serve("")
	cookies := first.Result().Cookies()
	if first.Code != http.StatusOK || len(cookies) != 1 {
		t.Fatalf("first request, server running: status %d, %d cookies; want 200 and a session cookie", first.Code, len(cookies))
	}
	cookie := cookies[0].Name + "=" + cookies[0].Value

	for _, c := range []struct {
		name      string
		inHandler bool
	}{{"load hangs", false}, {"commit hangs", true}} {
		mu.Lock()
		handled = nil
		mu.Unlock()
		pauseInHandler = c.inHandler
		if !c.inHandler {
			pause()
		}
		w := serve(cookie)
		resume()
		mu.Lock()
		errs := handled
		mu.Unlock()
		if w.Code != http.StatusServiceUnavailable || len(errs) != 1 {
			t.Errorf("%s: status %d, error handler called %d times (%v); want the error handler's 503, once", c.name, w.Code, len(errs), errs)
		} else {
			t.Logf("%s: the error handler got: %v", c.name, errs[0])
		}
		if sc := w.Header().Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("%s: the failed request set cookies %q, want none", c.name, sc)
		}
	}
	pauseInHandler = false
	// The server is back: the same Manager and store work again. The
	// client's connections may have been broken by the hang, so allow one
	// failed attempt to flush them.
	again := serve(cookie)
	if again.Code != http.StatusOK {
		t.Logf("first request after the server resumed: status %d (a connection broken by the hang); trying once more", again.Code)
		again = serve(cookie)
	}
	if again.Code != http.StatusOK {
		t.Errorf("request after the server resumed: status %d, want 200", again.Code)
	}
}
