package echosession_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sessionkit/sessionkit/adapters/echosession"
	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/adaptertest"
)

// The shared helpers, under the names the tests use.
var (
	errStore      = adaptertest.ErrStore
	newManager    = adaptertest.NewManager
	do            = adaptertest.Do
	sessionCookie = adaptertest.SessionCookie
)

func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	return e
}

// TestWritePaths checks that every way an Echo handler can answer carries
// the session cookie and that the value set before answering was stored.
func TestWritePaths(t *testing.T) {
	m, _ := newManager(t)
	file := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(file, []byte("file body"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEcho()
	e.Use(echosession.Middleware(m))
	set := func(c echo.Context) { echosession.Get(c).Set("v", c.Path()+c.Request().Method) }
	e.GET("/read", func(c echo.Context) error {
		v, _ := core.Value[string](echosession.Get(c), "v")
		return c.String(http.StatusOK, v)
	})
	e.GET("/json", func(c echo.Context) error { set(c); return c.JSON(http.StatusOK, map[string]bool{"ok": true}) })
	e.GET("/string", func(c echo.Context) error { set(c); return c.String(http.StatusCreated, "hi") })
	e.GET("/blob", func(c echo.Context) error { set(c); return c.Blob(http.StatusOK, "text/plain", []byte("blob")) })
	redirect := func(c echo.Context) error { set(c); return c.Redirect(http.StatusFound, "/read") }
	e.GET("/redirect", redirect)
	e.POST("/redirect", redirect)
	e.GET("/nocontent", func(c echo.Context) error { set(c); return c.NoContent(http.StatusNoContent) })
	e.GET("/file", func(c echo.Context) error { set(c); return c.File(file) })
	e.GET("/stream", func(c echo.Context) error {
		set(c)
		return c.Stream(http.StatusOK, "text/plain", strings.NewReader("streamed"))
	})
	e.GET("/flushfirst", func(c echo.Context) error {
		set(c)
		c.Response().Flush()
		return c.String(http.StatusOK, "after flush")
	})
	e.GET("/flushonly", func(c echo.Context) error { set(c); c.Response().Flush(); return nil })
	e.GET("/httperror", func(c echo.Context) error {
		set(c)
		return echo.NewHTTPError(http.StatusTeapot, "teapot")
	})
	e.GET("/notfound", func(c echo.Context) error { set(c); return echo.ErrNotFound })
	e.GET("/plainerror", func(c echo.Context) error { set(c); return errors.New("handler failed") })
	e.GET("/nothing", func(c echo.Context) error { set(c); return nil })
	e.GET("/before", func(c echo.Context) error {
		// A Response.Before hook runs before the commit and may still
		// change the session.
		c.Response().Before(func() { set(c) })
		return c.String(http.StatusOK, "before")
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	cases := []struct {
		method, path string
		status       int
		body         string // "" means: not checked
	}{
		{"GET", "/json", 200, "{\"ok\":true}\n"},
		{"GET", "/string", 201, "hi"},
		{"GET", "/blob", 200, "blob"},
		{"GET", "/redirect", 302, ""},
		{"POST", "/redirect", 302, ""},
		{"GET", "/nocontent", 204, ""},
		{"GET", "/file", 200, "file body"},
		{"GET", "/stream", 200, "streamed"},
		{"GET", "/flushfirst", 200, "after flush"},
		{"GET", "/flushonly", 200, ""},
		{"GET", "/httperror", 418, "{\"message\":\"teapot\"}\n"},
		{"GET", "/notfound", 404, "{\"message\":\"Not Found\"}\n"},
		{"GET", "/plainerror", 500, "{\"message\":\"Internal Server Error\"}\n"},
		{"GET", "/nothing", 200, ""},
		{"GET", "/before", 200, "before"},
	}
	for _, tc := range cases {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			t.Parallel()
			res, body := do(t, tc.method, srv.URL+tc.path, "")
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if got := res.Header.Get("Vary"); got != "Cookie" {
				t.Errorf("Vary = %q, want Cookie", got)
			}
			cookie := sessionCookie(res)
			if cookie == "" {
				t.Fatalf("no session cookie; Set-Cookie = %q", res.Header.Values("Set-Cookie"))
			}
			if _, got := do(t, "GET", srv.URL+"/read", cookie); got != tc.path+tc.method {
				t.Errorf("stored value = %q, want %q", got, tc.path+tc.method)
			}
		})
	}
}

// TestUntouched checks that a handler that never uses its session costs no
// store call and sets no cookie.
func TestUntouched(t *testing.T) {
	m, st := newManager(t)
	e := newEcho()
	e.Use(echosession.Middleware(m))
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "plain") })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	e.ServeHTTP(rec, req)
	if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("Set-Cookie = %q, want none", got)
	}
	if got := rec.Header().Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}
	if n := st.Loads.Load() + st.Saves.Load(); n != 0 {
		t.Errorf("store calls = %d, want 0", n)
	}
}

// TestSkipper checks that a skipped request has no session and no hook.
func TestSkipper(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	e.Use(echosession.MiddlewareWithConfig(echosession.Config{
		Manager: m,
		Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/static") },
	}))
	handler := func(c echo.Context) error {
		_, ok := core.FromContext(c.Request().Context())
		return c.String(http.StatusOK, fmt.Sprint(ok))
	}
	e.GET("/static/x", handler)
	e.GET("/page", handler)
	for path, want := range map[string]string{"/static/x": "false", "/page": "true"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Body.String() != want {
			t.Errorf("%s: session present = %s, want %s", path, rec.Body, want)
		}
		if vary := rec.Header().Get("Vary") == "Cookie"; vary != (want == "true") {
			t.Errorf("%s: Vary = %q", path, rec.Header().Get("Vary"))
		}
	}
}

// TestRestores checks that the middleware hands back the response writer
// and the request it found, and that Get and core.FromContext agree.
func TestRestores(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			w, r := c.Response().Writer, c.Request()
			err := next(c)
			if c.Response().Writer != w {
				t.Errorf("Response().Writer after the chain = %T, want the writer from before", c.Response().Writer)
			}
			if c.Request() != r {
				t.Error("Request() after the chain is not the request from before")
			}
			return err
		}
	})
	e.Use(echosession.Middleware(m))
	e.GET("/", func(c echo.Context) error {
		s := echosession.Get(c)
		if s2, ok := core.FromContext(c.Request().Context()); !ok || s2 != s {
			t.Errorf("core.FromContext = %p, %v, want %p, true", s2, ok, s)
		}
		if _, ok := c.Response().Writer.(*nethttp.Writer); !ok {
			t.Errorf("Response().Writer inside the chain = %T, want the header hook", c.Response().Writer)
		}
		return c.NoContent(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("status = %d, want 204", rec.Code)
	}
}

// recordErrors installs an HTTPErrorHandler that records what it is given
// and then renders it with Echo's default handler.
func recordErrors(e *echo.Echo) func() []error {
	var mu sync.Mutex
	var errs []error
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		e.DefaultHTTPErrorHandler(err, c)
	}
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

// TestCommitError checks that a failed save goes to the HTTPErrorHandler,
// which answers instead of the handler.
func TestCommitError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler echo.HandlerFunc
	}{
		{"json", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"secret": "handler body"}) }},
		{"string", func(c echo.Context) error {
			err := c.String(http.StatusOK, "handler body")
			if !errors.Is(err, nethttp.ErrResponseFailed) {
				t.Errorf("c.String after a failed commit = %v, want ErrResponseFailed", err)
			}
			return nil
		}},
		{"nothing", func(c echo.Context) error { return nil }},
		{"nocontent", func(c echo.Context) error { return c.NoContent(http.StatusAccepted) }},
		{"flush", func(c echo.Context) error { c.Response().Flush(); return c.String(http.StatusOK, "handler body") }},
		{"returned", func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "handler body") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, st := newManager(t)
			st.FailSave.Store(true)
			e := newEcho()
			errs := recordErrors(e)
			e.Use(echosession.Middleware(m))
			e.GET("/", func(c echo.Context) error {
				echosession.Get(c).Set("k", "v")
				c.Response().Header().Set("X-Handler", "1")
				return tc.handler(c)
			})
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", rec.Code)
			}
			if body := rec.Body.String(); body != "{\"message\":\"Internal Server Error\"}\n" {
				t.Errorf("body = %q, want the error handler's alone", body)
			}
			if rec.Header().Get("X-Handler") != "" || len(rec.Header().Values("Set-Cookie")) != 0 {
				t.Errorf("the handler's headers or a cookie leaked: %v", rec.Header())
			}
			n := 0
			for _, err := range errs() {
				if errors.Is(err, errStore) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("HTTPErrorHandler got %v, want the store error once", errs())
			}
		})
	}
}

// TestLoadError checks that a failed load is answered like a failed save.
func TestLoadError(t *testing.T) {
	m, st := newManager(t)
	st.FailLoad.Store(true)
	e := newEcho()
	errs := recordErrors(e)
	e.Use(echosession.Middleware(m))
	e.GET("/", func(c echo.Context) error {
		s := echosession.Get(c)
		if _, ok := s.Get("k"); ok {
			t.Error("Get found a value although the load failed")
		}
		if s.Err() == nil {
			t.Error("Session.Err() = nil after a failed load")
		}
		return c.String(http.StatusOK, "handler body")
	})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "handler body") {
		t.Errorf("response = %d %q, want 500 without the handler's body", rec.Code, rec.Body)
	}
	// Then Echo passes on the refused write's error, returned by c.String.
	if got := errs(); len(got) != 2 || !errors.Is(got[0], errStore) || !errors.Is(got[1], nethttp.ErrResponseFailed) {
		t.Errorf("HTTPErrorHandler got %v, want the load error, then ErrResponseFailed from Echo", got)
	}
}

// TestReturnedErrorOnce checks that a returned error is rendered once,
// inside the middleware, although it is also returned to Echo.
func TestReturnedErrorOnce(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	errs := recordErrors(e)
	e.Use(echosession.Middleware(m))
	e.GET("/", func(c echo.Context) error { echosession.Get(c).Set("k", 1); return echo.ErrForbidden })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusForbidden || rec.Body.String() != "{\"message\":\"Forbidden\"}\n" {
		t.Errorf("response = %d %q, want one 403 page", rec.Code, rec.Body)
	}
	if len(rec.Result().Cookies()) != 1 {
		t.Errorf("cookies = %v, want the session cookie", rec.Result().Cookies())
	}
	if got := errs(); len(got) != 2 || got[0] != echo.ErrForbidden {
		t.Errorf("HTTPErrorHandler calls = %v, want the middleware's and Echo's", got)
	}
}

// TestPanic checks that a panic recovered outside the middleware leaves a
// usable response and does not break later requests.
func TestPanic(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return next(c)
		}
	})
	e.Use(echosession.Middleware(m))
	e.GET("/panic", func(c echo.Context) error { echosession.Get(c).Set("k", 1); panic("boom") })
	e.GET("/ok", func(c echo.Context) error { echosession.Get(c).Set("k", 1); return c.String(http.StatusOK, "ok") })
	for _, path := range []string{"/panic", "/ok", "/panic", "/ok"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		want := http.StatusOK
		if path == "/panic" {
			want = http.StatusInternalServerError
		}
		if rec.Code != want {
			t.Errorf("%s: status = %d, want %d", path, rec.Code, want)
		}
		if path == "/ok" && len(rec.Result().Cookies()) != 1 {
			t.Errorf("%s: cookies = %v, want one", path, rec.Result().Cookies())
		}
	}
}

// TestGetWithoutMiddleware checks the documented panic.
func TestGetWithoutMiddleware(t *testing.T) {
	e := newEcho()
	c := e.NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	defer func() {
		if recover() == nil {
			t.Error("Get without the middleware did not panic")
		}
	}()
	echosession.Get(c)
}

// TestNilManager checks the documented constructor panic.
func TestNilManager(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MiddlewareWithConfig without a Manager did not panic")
		}
	}()
	echosession.MiddlewareWithConfig(echosession.Config{})
}

// TestRenewAndDestroy runs a login and logout through Echo.
func TestRenewAndDestroy(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	e.Use(echosession.Middleware(m))
	e.GET("/count", func(c echo.Context) error {
		s := echosession.Get(c)
		n, _ := core.Value[int](s, "n")
		s.Set("n", n+1)
		return c.String(http.StatusOK, fmt.Sprint(n+1))
	})
	e.POST("/login", func(c echo.Context) error {
		echosession.Get(c).Renew()
		return c.Redirect(http.StatusSeeOther, "/count")
	})
	e.POST("/logout", func(c echo.Context) error {
		echosession.Get(c).Destroy()
		return c.Redirect(http.StatusSeeOther, "/count")
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	adaptertest.CheckRenewAndDestroy(t, srv.URL)
}

// TestErrorHandlerUsesSession checks that the HTTPErrorHandler renders a
// returned error inside the middleware, where it can still change the
// session (here: a flash for the next page) and its page carries the cookie.
func TestErrorHandlerUsesSession(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if s, ok := core.FromContext(c.Request().Context()); ok && !c.Response().Committed {
			s.AddFlash("failed: " + err.Error())
		}
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.Use(echosession.Middleware(m))
	e.GET("/fail", func(c echo.Context) error { return errors.New("boom") })
	e.GET("/next", func(c echo.Context) error {
		return c.String(http.StatusOK, strings.Join(echosession.Get(c).Flashes(), ","))
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	res, _ := do(t, "GET", srv.URL+"/fail", "")
	cookie := sessionCookie(res)
	if res.StatusCode != http.StatusInternalServerError || cookie == "" {
		t.Fatalf("GET /fail = %d with cookie %q, want 500 with a session cookie", res.StatusCode, cookie)
	}
	if _, body := do(t, "GET", srv.URL+"/next", cookie); body != "failed: boom" {
		t.Errorf("flash on the next page = %q, want %q", body, "failed: boom")
	}
}

// TestRetainedWriterReachesNoOtherResponse: a handler that keeps the
// session's response writer (c.Response().Writer) past its request writes
// to its own response, never to a later request's: the hook is part of
// the request's own allocation, not taken from a pool.
func TestRetainedWriterReachesNoOtherResponse(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	e.Use(echosession.Middleware(m))
	var kept http.ResponseWriter
	e.GET("/keep", func(c echo.Context) error {
		kept = c.Response().Writer
		return c.String(http.StatusOK, "kept")
	})
	e.GET("/other", func(c echo.Context) error {
		echosession.Get(c).Set("n", 1)
		kept.Header().Set("X-Late", "1")
		_, _ = io.WriteString(kept, "late")
		return c.String(http.StatusOK, "other")
	})
	adaptertest.CheckRetainedWriter(t, e)
}
