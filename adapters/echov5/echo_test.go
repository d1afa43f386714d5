package echov5_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/sessionkit/sessionkit/adapters/echov5"
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
	e.Logger = slog.New(slog.DiscardHandler)
	return e
}

// flush flushes c's response as a v5 handler does.
func flush(c *echo.Context) error { return http.NewResponseController(c.Response()).Flush() }

// TestWritePaths checks that every way an Echo v5 handler can answer
// carries the session cookie and that the value set before answering was
// stored.
func TestWritePaths(t *testing.T) {
	m, _ := newManager(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("file body"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEcho()
	e.Filesystem = os.DirFS(dir)
	e.Use(echov5.Middleware(m))
	set := func(c *echo.Context) { echov5.Get(c).Set("v", c.Path()+c.Request().Method) }
	e.GET("/read", func(c *echo.Context) error {
		v, _ := core.Value[string](echov5.Get(c), "v")
		return c.String(http.StatusOK, v)
	})
	e.GET("/json", func(c *echo.Context) error { set(c); return c.JSON(http.StatusOK, map[string]bool{"ok": true}) })
	e.GET("/string", func(c *echo.Context) error { set(c); return c.String(http.StatusCreated, "hi") })
	e.GET("/html", func(c *echo.Context) error { set(c); return c.HTML(http.StatusOK, "<p>hi</p>") })
	e.GET("/blob", func(c *echo.Context) error { set(c); return c.Blob(http.StatusOK, "text/plain", []byte("blob")) })
	redirect := func(c *echo.Context) error { set(c); return c.Redirect(http.StatusFound, "/read") }
	e.GET("/redirect", redirect)
	e.POST("/redirect", redirect)
	e.GET("/nocontent", func(c *echo.Context) error { set(c); return c.NoContent(http.StatusNoContent) })
	e.GET("/file", func(c *echo.Context) error { set(c); return c.File("f.txt") })
	e.GET("/stream", func(c *echo.Context) error {
		set(c)
		return c.Stream(http.StatusOK, "text/plain", strings.NewReader("streamed"))
	})
	e.GET("/flushfirst", func(c *echo.Context) error {
		set(c)
		if err := flush(c); err != nil {
			return err
		}
		return c.String(http.StatusOK, "after flush")
	})
	e.GET("/flushonly", func(c *echo.Context) error { set(c); return flush(c) })
	e.GET("/flusher", func(c *echo.Context) error {
		set(c)
		c.Response().(http.Flusher).Flush() // the pre-ResponseController way
		_, err := io.WriteString(c.Response(), "chunk")
		return err
	})
	e.GET("/httperror", func(c *echo.Context) error {
		set(c)
		return echo.NewHTTPError(http.StatusTeapot, "teapot")
	})
	e.GET("/wrapped", func(c *echo.Context) error {
		set(c)
		return echo.ErrForbidden.Wrap(errors.New("no entry"))
	})
	e.GET("/notfound", func(c *echo.Context) error { set(c); return echo.ErrNotFound })
	e.GET("/plainerror", func(c *echo.Context) error { set(c); return errors.New("handler failed") })
	e.GET("/nothing", func(c *echo.Context) error { set(c); return nil })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	cases := []struct {
		method, path string
		status       int
		body         string // "" means: not checked
	}{
		{"GET", "/json", 200, "{\"ok\":true}\n"},
		{"GET", "/string", 201, "hi"},
		{"GET", "/html", 200, "<p>hi</p>"},
		{"GET", "/blob", 200, "blob"},
		{"GET", "/redirect", 302, ""},
		{"POST", "/redirect", 302, ""},
		{"GET", "/nocontent", 204, ""},
		{"GET", "/file", 200, "file body"},
		{"GET", "/stream", 200, "streamed"},
		{"GET", "/flushfirst", 200, "after flush"},
		{"GET", "/flushonly", 200, ""},
		{"GET", "/flusher", 200, "chunk"},
		{"GET", "/httperror", 418, "{\"message\":\"teapot\"}\n"},
		{"GET", "/wrapped", 403, "{\"message\":\"Forbidden\"}\n"},
		{"GET", "/notfound", 404, "{\"message\":\"Not Found\"}\n"},
		{"GET", "/plainerror", 500, "{\"message\":\"Internal Server Error\"}\n"},
		{"GET", "/nothing", 200, ""},
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
	e.Use(echov5.Middleware(m))
	e.GET("/", func(c *echo.Context) error { return c.String(http.StatusOK, "plain") })
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

// TestSkipper checks that a skipped request has no session and no hook,
// and that Echo's own middleware.Skipper functions fit Config.Skipper.
func TestSkipper(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	var skip middleware.Skipper = func(c *echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/static") }
	e.Use(echov5.MiddlewareWithConfig(echov5.Config{Manager: m, Skipper: skip}))
	handler := func(c *echo.Context) error {
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
// and the request it found, that echo.UnwrapResponse still reaches Echo's
// Response through the hook (Echo's logger and error handler rely on it),
// and that Get and core.FromContext agree.
func TestRestores(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	var status int
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			w, r := c.Response(), c.Request()
			err := next(c)
			if c.Response() != w {
				t.Errorf("Response() after the chain = %T, want the writer from before", c.Response())
			}
			if c.Request() != r {
				t.Error("Request() after the chain is not the request from before")
			}
			if res, err := echo.UnwrapResponse(w); err != nil || !res.Committed {
				t.Errorf("echo.UnwrapResponse after the chain = %v, %v, want a committed Response", res, err)
			} else {
				status = res.Status
			}
			return err
		}
	})
	e.Use(echov5.Middleware(m))
	e.GET("/", func(c *echo.Context) error {
		s := echov5.Get(c)
		if s2, ok := core.FromContext(c.Request().Context()); !ok || s2 != s {
			t.Errorf("core.FromContext = %p, %v, want %p, true", s2, ok, s)
		}
		if _, ok := c.Response().(*nethttp.Writer); !ok {
			t.Errorf("Response() inside the chain = %T, want the header hook", c.Response())
		}
		if _, err := echo.UnwrapResponse(c.Response()); err != nil {
			t.Errorf("echo.UnwrapResponse inside the chain: %v", err)
		}
		return c.NoContent(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNoContent || status != http.StatusNoContent {
		t.Errorf("status = %d, Echo's Response.Status = %d, want 204", rec.Code, status)
	}
}

// recordErrors installs an HTTPErrorHandler that records what it is given
// and then renders it with Echo's default handler.
func recordErrors(e *echo.Echo) func() []error {
	var mu sync.Mutex
	var errs []error
	def := echo.DefaultHTTPErrorHandler(false)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		def(c, err)
	}
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

// TestCommitError checks that a failed save goes to the HTTPErrorHandler,
// which answers instead of the handler, once, whichever way the handler
// answered.
func TestCommitError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler echo.HandlerFunc
	}{
		{"json", func(c *echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"secret": "handler body"}) }},
		{"string", func(c *echo.Context) error {
			err := c.String(http.StatusOK, "handler body")
			if !errors.Is(err, nethttp.ErrResponseFailed) {
				t.Errorf("c.String after a failed commit = %v, want ErrResponseFailed", err)
			}
			return nil
		}},
		{"nothing", func(c *echo.Context) error { return nil }},
		{"nocontent", func(c *echo.Context) error { return c.NoContent(http.StatusAccepted) }},
		{"redirect", func(c *echo.Context) error { return c.Redirect(http.StatusSeeOther, "/elsewhere") }},
		{"flush", func(c *echo.Context) error {
			if err := flush(c); !errors.Is(err, nethttp.ErrResponseFailed) {
				t.Errorf("Flush after a failed commit = %v, want ErrResponseFailed", err)
			}
			c.Response().Header().Set("X-Late", "1") // after the failure
			return c.String(http.StatusOK, "handler body")
		}},
		{"returned", func(c *echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "handler body") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, st := newManager(t)
			st.FailSave.Store(true)
			e := newEcho()
			errs := recordErrors(e)
			e.Use(echov5.Middleware(m))
			e.GET("/", func(c *echo.Context) error {
				echov5.Get(c).Set("k", "v")
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
			for _, name := range []string{"X-Handler", "X-Late", "Location", "Set-Cookie"} {
				if rec.Header().Get(name) != "" {
					t.Errorf("the handler's %s header leaked: %v", name, rec.Header())
				}
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
	e.Use(echov5.Middleware(m))
	e.GET("/", func(c *echo.Context) error {
		s := echov5.Get(c)
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
	e.Use(echov5.Middleware(m))
	e.GET("/", func(c *echo.Context) error { echov5.Get(c).Set("k", 1); return echo.ErrForbidden })
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

// TestPanic checks that a panic recovered by Echo's Recover middleware,
// outside or inside the session middleware, leaves a 500 and does not
// break later requests. Inside, the panic is a returned error and its
// error page carries the cookie.
func TestPanic(t *testing.T) {
	for _, recoverInside := range []bool{false, true} {
		t.Run(fmt.Sprintf("inside=%v", recoverInside), func(t *testing.T) {
			m, _ := newManager(t)
			e := newEcho()
			recov := middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true})
			if !recoverInside {
				e.Use(recov)
			}
			e.Use(echov5.Middleware(m))
			if recoverInside {
				e.Use(recov)
			}
			e.GET("/panic", func(c *echo.Context) error { echov5.Get(c).Set("k", 1); panic("boom") })
			e.GET("/ok", func(c *echo.Context) error { echov5.Get(c).Set("k", 1); return c.String(http.StatusOK, "ok") })
			for _, path := range []string{"/panic", "/ok", "/panic", "/ok"} {
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				want, cookies := http.StatusOK, 1
				if path == "/panic" {
					want = http.StatusInternalServerError
					if !recoverInside {
						cookies = 0
					}
				}
				if rec.Code != want {
					t.Errorf("%s: status = %d, want %d", path, rec.Code, want)
				}
				if got := len(rec.Result().Cookies()); got != cookies {
					t.Errorf("%s: cookies = %v, want %d", path, rec.Result().Cookies(), cookies)
				}
			}
		})
	}
}

// TestHijack checks that a hijacked connection gets no cookie from the
// hook, through http.ResponseController and through the http.Hijacker
// assertion, and that changes to an existing session are still saved.
func TestHijack(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	// The late commit after a hijack runs when the handler has returned,
	// after the client has its response: wait for the session middleware.
	returned := make(chan struct{}, 1)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			err := next(c)
			if c.Path() == "/controller" || c.Path() == "/hijacker" {
				returned <- struct{}{}
			}
			return err
		}
	})
	e.Use(echov5.Middleware(m))
	e.GET("/set", func(c *echo.Context) error {
		echov5.Get(c).Set("n", 0)
		return c.NoContent(http.StatusNoContent)
	})
	e.GET("/read", func(c *echo.Context) error {
		n, _ := core.Value[int](echov5.Get(c), "n")
		return c.String(http.StatusOK, fmt.Sprint(n))
	})
	hijack := func(c *echo.Context, take func() (io.ReadWriteCloser, *bufio.ReadWriter, error)) error {
		s := echov5.Get(c)
		n, _ := core.Value[int](s, "n")
		s.Set("n", n+1)
		conn, rw, err := take()
		if err != nil {
			return err
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		return rw.Flush()
	}
	e.GET("/controller", func(c *echo.Context) error {
		return hijack(c, func() (io.ReadWriteCloser, *bufio.ReadWriter, error) {
			return http.NewResponseController(c.Response()).Hijack()
		})
	})
	e.GET("/hijacker", func(c *echo.Context) error {
		return hijack(c, func() (io.ReadWriteCloser, *bufio.ReadWriter, error) {
			return c.Response().(http.Hijacker).Hijack()
		})
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	res, _ := do(t, "GET", srv.URL+"/set", "")
	cookie := sessionCookie(res)
	if cookie == "" {
		t.Fatal("no session cookie from /set")
	}
	for i, path := range []string{"/controller", "/hijacker"} {
		res, body := do(t, "GET", srv.URL+path, cookie)
		if res.StatusCode != http.StatusOK || body != "hijacked" {
			t.Errorf("%s: response = %d %q, want the hijacker's 200 \"hijacked\"", path, res.StatusCode, body)
		}
		if got := res.Header.Values("Set-Cookie"); len(got) != 0 {
			t.Errorf("%s: Set-Cookie = %q on a hijacked connection, want none", path, got)
		}
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the session middleware did not return within 10s of the hijacked response", path)
		}
		if _, got := do(t, "GET", srv.URL+"/read", cookie); got != fmt.Sprint(i+1) {
			t.Errorf("%s: stored n = %s, want %d (changes before the hijack saved)", path, got, i+1)
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
	echov5.Get(c)
}

// TestNilManager checks the documented constructor panic.
func TestNilManager(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MiddlewareWithConfig without a Manager did not panic")
		}
	}()
	echov5.MiddlewareWithConfig(echov5.Config{})
}

// TestRenewAndDestroy runs a login and logout through Echo.
func TestRenewAndDestroy(t *testing.T) {
	m, _ := newManager(t)
	e := newEcho()
	e.Use(echov5.Middleware(m))
	e.GET("/count", func(c *echo.Context) error {
		s := echov5.Get(c)
		n, _ := core.Value[int](s, "n")
		s.Set("n", n+1)
		return c.String(http.StatusOK, fmt.Sprint(n+1))
	})
	e.POST("/login", func(c *echo.Context) error {
		echov5.Get(c).Renew()
		return c.Redirect(http.StatusSeeOther, "/count")
	})
	e.POST("/logout", func(c *echo.Context) error {
		echov5.Get(c).Destroy()
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
	def := echo.DefaultHTTPErrorHandler(false)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		res, _ := echo.UnwrapResponse(c.Response())
		if s, ok := core.FromContext(c.Request().Context()); ok && res != nil && !res.Committed {
			s.AddFlash("failed: " + err.Error())
		}
		def(c, err)
	}
	e.Use(echov5.Middleware(m))
	e.GET("/fail", func(c *echo.Context) error { return errors.New("boom") })
	e.GET("/next", func(c *echo.Context) error {
		return c.String(http.StatusOK, strings.Join(echov5.Get(c).Flashes(), ","))
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

// TestPressure sends many concurrent requests down the success, returned
// error, panic and failed-commit paths through one Echo, which pools its
// Contexts and responses (the middleware's hook is per request): under
// -race, state used after its request or shared by two requests shows up
// here.
func TestPressure(t *testing.T) {
	m, _ := newManager(t)
	failing, st := newManager(t)
	st.FailSave.Store(true)
	e := newEcho()
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true}))
	ok := echov5.Middleware(m)
	e.GET("/json", func(c *echo.Context) error {
		echov5.Get(c).Set("k", 1)
		return c.JSON(http.StatusOK, map[string]int{"k": 1})
	}, ok)
	e.GET("/error", func(c *echo.Context) error { echov5.Get(c).Set("k", 1); return echo.ErrForbidden }, ok)
	e.GET("/panic", func(c *echo.Context) error { echov5.Get(c).Set("k", 1); panic("boom") }, ok)
	e.GET("/failing", func(c *echo.Context) error {
		echov5.Get(c).Set("k", 1)
		return c.JSON(http.StatusOK, map[string]int{"k": 1})
	}, echov5.Middleware(failing))
	want := map[string]struct {
		status int
		cookie bool
	}{"/json": {200, true}, "/error": {403, true}, "/panic": {500, false}, "/failing": {500, false}}
	paths := []string{"/json", "/error", "/panic", "/failing"}

	workers, perWorker := 32, 200
	if testing.Short() {
		perWorker = 20
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				path := paths[(w+i)%len(paths)]
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				wt := want[path]
				if rec.Code != wt.status || (len(rec.Result().Cookies()) == 1) != wt.cookie {
					errc <- fmt.Errorf("%s: status %d, cookies %v, want %d, cookie %v", path, rec.Code, rec.Result().Cookies(), wt.status, wt.cookie)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

// TestAutoHead checks a HEAD request that Echo's router answers with a GET
// handler (RouterConfig.AutoHandleHEAD): its writer, which holds the status
// back until the handler returns, sits on top of the hook, and the cookie
// still leaves with the header, or the error handler answers when the save
// fails.
func TestAutoHead(t *testing.T) {
	for _, failSave := range []bool{false, true} {
		t.Run(fmt.Sprintf("failSave=%v", failSave), func(t *testing.T) {
			m, st := newManager(t)
			st.FailSave.Store(failSave)
			e := echo.NewWithConfig(echo.Config{
				Logger: slog.New(slog.DiscardHandler),
				Router: echo.NewRouter(echo.RouterConfig{AutoHandleHEAD: true}),
			})
			e.Use(echov5.Middleware(m))
			e.GET("/", func(c *echo.Context) error {
				echov5.Get(c).Set("k", 1)
				return c.String(http.StatusOK, "body")
			})
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/", nil))
			wantStatus, wantCookies := http.StatusOK, 1
			if failSave {
				wantStatus, wantCookies = http.StatusInternalServerError, 0
			}
			if rec.Code != wantStatus || len(rec.Result().Cookies()) != wantCookies {
				t.Errorf("HEAD = %d with cookies %v, want %d with %d", rec.Code, rec.Result().Cookies(), wantStatus, wantCookies)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("HEAD body = %q, want none", rec.Body)
			}
		})
	}
}
