package ginsession_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/sessionkit/adapters/ginsession"
	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/adaptertest"
)

func init() { gin.SetMode(gin.TestMode) }

// The shared helpers, under the names the tests use.
var (
	errStore      = adaptertest.ErrStore
	newManager    = adaptertest.NewManager
	do            = adaptertest.Do
	sessionCookie = adaptertest.SessionCookie
)

// TestWritePaths checks that every way a Gin handler can answer carries the
// session cookie and that the value set before answering was stored.
func TestWritePaths(t *testing.T) {
	m, _ := newManager(t)
	file := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(file, []byte("file body"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	set := func(c *gin.Context) { ginsession.Get(c).Set("v", c.FullPath()+c.Request.Method) }
	r.GET("/read", func(c *gin.Context) {
		v, _ := core.Value[string](ginsession.Get(c), "v")
		c.String(http.StatusOK, "%s", v)
	})
	r.GET("/json", func(c *gin.Context) { set(c); c.JSON(http.StatusOK, gin.H{"ok": true}) })
	r.GET("/string", func(c *gin.Context) { set(c); c.String(http.StatusCreated, "hi") })
	r.GET("/data", func(c *gin.Context) { set(c); c.Data(http.StatusOK, "text/plain", []byte("data")) })
	redirect := func(c *gin.Context) { set(c); c.Redirect(http.StatusFound, "/read") }
	r.GET("/redirect", redirect)
	r.POST("/redirect", redirect)
	r.GET("/abort", func(c *gin.Context) { set(c); c.AbortWithStatus(http.StatusUnauthorized) })
	r.GET("/abortjson", func(c *gin.Context) {
		set(c)
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "no"})
	})
	r.GET("/abortwitherror", func(c *gin.Context) {
		set(c)
		_ = c.AbortWithError(http.StatusBadRequest, errors.New("bad"))
	})
	r.GET("/file", func(c *gin.Context) { set(c); c.File(file) })
	r.GET("/stream", func(c *gin.Context) {
		set(c)
		i := 0
		c.Stream(func(w io.Writer) bool {
			i++
			_, _ = io.WriteString(w, "chunk")
			return i < 3
		})
	})
	r.GET("/sse", func(c *gin.Context) { set(c); c.SSEvent("message", "hello") })
	r.GET("/nothing", set)
	r.GET("/status", func(c *gin.Context) { set(c); c.Status(http.StatusNoContent) })
	r.GET("/headernow", func(c *gin.Context) {
		set(c)
		c.Status(http.StatusAccepted)
		c.Writer.WriteHeaderNow()
	})
	r.GET("/writestring", func(c *gin.Context) { set(c); _, _ = c.Writer.WriteString("ws") })
	r.GET("/flushfirst", func(c *gin.Context) {
		set(c)
		c.Writer.Flush()
		_, _ = c.Writer.WriteString("after flush")
	})
	r.GET("/controller", func(c *gin.Context) {
		set(c)
		if err := http.NewResponseController(c.Writer).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	})
	r.GET("/lateset", func(c *gin.Context) {
		// Gin defers the status: a change after c.Status still goes out.
		c.Status(http.StatusAccepted)
		set(c)
		_, _ = c.Writer.WriteString("late")
	})
	r.NoRoute(set)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	cases := []struct {
		method, path string
		status       int
		body         string // "" means: not checked
	}{
		{"GET", "/json", 200, `{"ok":true}`},
		{"GET", "/string", 201, "hi"},
		{"GET", "/data", 200, "data"},
		{"GET", "/redirect", 302, ""},
		{"POST", "/redirect", 302, ""},
		{"GET", "/abort", 401, ""},
		{"GET", "/abortjson", 403, `{"error":"no"}`},
		{"GET", "/abortwitherror", 400, ""},
		{"GET", "/file", 200, "file body"},
		{"GET", "/stream", 200, "chunkchunkchunk"},
		{"GET", "/sse", 200, "event:message\ndata:hello\n\n"},
		{"GET", "/nothing", 200, ""},
		{"GET", "/status", 204, ""},
		{"GET", "/headernow", 202, ""},
		{"GET", "/writestring", 200, "ws"},
		{"GET", "/flushfirst", 200, "after flush"},
		{"GET", "/controller", 200, ""},
		{"GET", "/lateset", 202, "late"},
		{"GET", "/no/such/route", 404, "404 page not found"},
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
			_, got := do(t, "GET", srv.URL+"/read", cookie)
			want := tc.path + tc.method
			if tc.status == 404 {
				want = tc.method // FullPath is empty for NoRoute
			}
			if got != want {
				t.Errorf("stored value = %q, want %q", got, want)
			}
		})
	}
}

// TestUntouched checks that a handler that never uses its session costs no
// store call and sets no cookie.
func TestUntouched(t *testing.T) {
	m, st := newManager(t)
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "plain") })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	r.ServeHTTP(rec, req)
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

// TestWriterMethods checks that the wrapper keeps Gin's ResponseWriter
// behaviour and that the middleware restores c.Writer and c.Request.
func TestWriterMethods(t *testing.T) {
	m, _ := newManager(t)
	r := gin.New()
	var outerWriter gin.ResponseWriter
	var outerReq *http.Request
	r.Use(func(c *gin.Context) {
		outerWriter, outerReq = c.Writer, c.Request
		c.Next()
		if c.Writer != outerWriter {
			t.Errorf("c.Writer after the chain = %T, want the writer from before", c.Writer)
		}
		if c.Request != outerReq {
			t.Error("c.Request after the chain is not the request from before")
		}
		if _, ok := core.FromContext(c.Request.Context()); ok {
			t.Error("the outer request context carries a session")
		}
		if got, want := c.Writer.Status(), http.StatusCreated; got != want {
			t.Errorf("Status() after the chain = %d, want %d", got, want)
		}
		if got, want := c.Writer.Size(), len("hello"); got != want {
			t.Errorf("Size() after the chain = %d, want %d", got, want)
		}
	})
	r.Use(ginsession.Middleware(m))
	r.GET("/", func(c *gin.Context) {
		if c.Writer == outerWriter {
			t.Error("c.Writer inside the chain is not wrapped")
		}
		s := ginsession.Get(c)
		if s2, ok := core.FromContext(c.Request.Context()); !ok || s2 != s {
			t.Errorf("core.FromContext = %p, %v, want %p, true", s2, ok, s)
		}
		if c.Writer.Written() {
			t.Error("Written() = true before writing")
		}
		if got := c.Writer.Size(); got != -1 {
			t.Errorf("Size() before writing = %d, want -1", got)
		}
		if p := c.Writer.Pusher(); p != nil {
			t.Errorf("Pusher() = %T on HTTP/1.1, want nil", p)
		}
		if ch := c.Writer.CloseNotify(); ch == nil {
			t.Error("CloseNotify() = nil")
		}
		s.Set("k", 1)
		c.Status(http.StatusCreated)
		if got := c.Writer.Status(); got != http.StatusCreated {
			t.Errorf("Status() = %d, want %d", got, http.StatusCreated)
		}
		if c.Writer.Written() {
			t.Error("Written() = true after c.Status alone (Gin defers the header)")
		}
		if n, err := c.Writer.WriteString("hello"); n != 5 || err != nil {
			t.Errorf("WriteString = %d, %v, want 5, nil", n, err)
		}
		if !c.Writer.Written() {
			t.Error("Written() = false after writing")
		}
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	res, body := do(t, "GET", srv.URL+"/", "")
	if res.StatusCode != http.StatusCreated || body != "hello" || sessionCookie(res) == "" {
		t.Errorf("response = %d %q cookie %q, want 201 \"hello\" with a session cookie", res.StatusCode, body, sessionCookie(res))
	}
}

// TestCommitError checks that a failed save answers 500 without the
// handler's body, records the error in c.Errors and aborts the chain.
func TestCommitError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler gin.HandlerFunc
		wrote   bool // the failure shows during the handler, not after the chain
	}{
		{"json", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"secret": "handler body"}) }, true},
		{"string", func(c *gin.Context) {
			c.String(http.StatusOK, "handler body")
			if _, err := c.Writer.WriteString("more"); !errors.Is(err, nethttp.ErrResponseFailed) {
				t.Errorf("WriteString after a failed commit = %v, want ErrResponseFailed", err)
			}
		}, true},
		{"nothing", func(c *gin.Context) { c.Header("X-Handler", "1") }, false},
		{"abort", func(c *gin.Context) { c.AbortWithStatus(http.StatusTeapot) }, true},
		{"flush", func(c *gin.Context) { c.Writer.Flush(); _, _ = c.Writer.WriteString("handler body") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, st := newManager(t)
			st.FailSave.Store(true)
			var errs []*gin.Error
			ranAfter := false
			r := gin.New()
			r.Use(func(c *gin.Context) { c.Next(); errs = c.Errors })
			r.Use(ginsession.Middleware(m))
			r.GET("/", func(c *gin.Context) {
				ginsession.Get(c).Set("k", "v")
				c.Header("X-Handler", "1")
				tc.handler(c)
			}, func(c *gin.Context) { ranAfter = true })
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", rec.Code)
			}
			if body := rec.Body.String(); body != "Internal Server Error\n" {
				t.Errorf("body = %q, want the error handler's alone", body)
			}
			if rec.Header().Get("X-Handler") != "" || len(rec.Header().Values("Set-Cookie")) != 0 {
				t.Errorf("the handler's headers or a cookie leaked: %v", rec.Header())
			}
			// Gin's c.Render adds the write error of the refused body.
			if len(errs) == 0 || !errors.Is(errs[0].Err, errStore) {
				t.Errorf("c.Errors = %v, want the store error first", errs)
			}
			if tc.wrote && ranAfter {
				t.Error("the next handler ran after the failed commit")
			}
		})
	}
}

// TestLoadError checks that a failed load is answered like a failed save.
func TestLoadError(t *testing.T) {
	m, st := newManager(t)
	st.FailLoad.Store(true)
	var errs []*gin.Error
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Next(); errs = c.Errors })
	r.Use(ginsession.Middleware(m))
	r.GET("/", func(c *gin.Context) {
		s := ginsession.Get(c)
		if _, ok := s.Get("k"); ok {
			t.Error("Get found a value although the load failed")
		}
		if s.Err() == nil {
			t.Error("Session.Err() = nil after a failed load")
		}
		c.String(http.StatusOK, "handler body")
	})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "handler body") {
		t.Errorf("response = %d %q, want 500 without the handler's body", rec.Code, rec.Body)
	}
	if len(errs) == 0 || !errors.Is(errs[0].Err, errStore) {
		t.Errorf("c.Errors = %v, want the load error first", errs)
	}
}

// TestPanic checks that a panicking handler leaves a usable context for
// gin.Recovery and does not break later requests.
func TestPanic(t *testing.T) {
	m, _ := newManager(t)
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	r.Use(ginsession.Middleware(m))
	r.GET("/panic", func(c *gin.Context) { ginsession.Get(c).Set("k", 1); panic("boom") })
	r.GET("/ok", func(c *gin.Context) { ginsession.Get(c).Set("k", 1); c.String(http.StatusOK, "ok") })
	for _, path := range []string{"/panic", "/ok", "/panic", "/ok"} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
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

// TestDefaultWithoutMiddleware checks the documented panic.
func TestDefaultWithoutMiddleware(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	defer func() {
		if recover() == nil {
			t.Error("Default without the middleware did not panic")
		}
	}()
	ginsession.Get(c)
}

// TestRenewAndDestroy runs a login and logout through Gin.
func TestRenewAndDestroy(t *testing.T) {
	m, _ := newManager(t)
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.GET("/count", func(c *gin.Context) {
		s := ginsession.Get(c)
		n, _ := core.Value[int](s, "n")
		s.Set("n", n+1)
		c.String(http.StatusOK, "%d", n+1)
	})
	r.POST("/login", func(c *gin.Context) { ginsession.Get(c).Renew(); c.Redirect(http.StatusSeeOther, "/count") })
	r.POST("/logout", func(c *gin.Context) { ginsession.Get(c).Destroy(); c.Redirect(http.StatusSeeOther, "/count") })
	srv := httptest.NewServer(r)
	defer srv.Close()

	adaptertest.CheckRenewAndDestroy(t, srv.URL)
}
