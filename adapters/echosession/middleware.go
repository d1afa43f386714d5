// Package echosession connects sessionkit to Echo v4.
//
//	e := echo.New()
//	e.Use(echosession.Middleware(m))
//	e.GET("/", func(c echo.Context) error {
//		s := echosession.Get(c)
//		n, _ := core.Value[int](s, "n")
//		s.Set("n", n+1)
//		return c.String(http.StatusOK, strconv.Itoa(n+1))
//	})
//
// There is no Save to call: the session is committed just before the
// response header leaves, whichever way the handler answers (c.JSON,
// c.String, c.Redirect, c.NoContent, c.File, c.Stream,
// c.Response().Flush(), a returned error rendered by the HTTPErrorHandler,
// ...), and after the handler returns when nothing was written.
//
// For Echo v5, import github.com/sessionkit/sessionkit/adapters/echov5: a
// package with the same name and API, on *echo.Context.
package echosession

import (
	"github.com/labstack/echo/v4"

	"github.com/sessionkit/sessionkit/core"
)

// Config configures MiddlewareWithConfig.
type Config struct {
	// Manager runs the session life cycle. Required.
	Manager *core.Manager

	// Skipper, when it returns true, passes the request on without a
	// session. It accepts Echo's middleware.Skipper functions. Default:
	// nil, no request is skipped.
	Skipper func(c echo.Context) bool
}

// Middleware returns Echo middleware that gives every request a session
// from m; see MiddlewareWithConfig.
func Middleware(m *core.Manager) echo.MiddlewareFunc {
	return MiddlewareWithConfig(Config{Manager: m})
}

// MiddlewareWithConfig returns Echo middleware that gives every request a
// session from cfg.Manager. Handlers get it with Get(c), or with
// core.FromContext on c.Request().Context(). The session is loaded on
// first use and committed just before the response header is sent: the
// middleware replaces c.Response().Writer with the header hook of package
// nethttp for the rest of the chain (Response.Before alone would miss
// flush-first and no-write responses). Functions registered with
// c.Response().Before run before the commit (Echo v4 calls them before the
// writer it wraps), so a session change made in one is saved; with Echo v5
// (package echov5) they run after the commit, so code that is to move to
// v5 should change the session before answering, not in them.
//
// An error returned by the handler is rendered with c.Error (Echo's
// HTTPErrorHandler) inside the middleware, so that the error page carries
// the session cookie too, and then returned, as Echo's own Logger
// middleware does; Echo's default HTTPErrorHandler does not answer a
// committed response twice, and a custom one should check
// c.Response().Committed as well.
//
// When loading or saving the session fails before the header was sent,
// the error goes to Echo's HTTPErrorHandler, which answers the request
// instead of the handler (with the default handler: 500 Internal Server
// Error), and it is logged with the Manager's logger, as the other adapters
// do; core.Config.ErrorHandler is not used by this adapter. Later writes
// by the handler fail with nethttp.ErrResponseFailed.
//
// MiddlewareWithConfig panics when cfg.Manager is nil.
func MiddlewareWithConfig(cfg Config) echo.MiddlewareFunc {
	if cfg.Manager == nil {
		panic("sessionkit: echosession: Config.Manager is required")
	}
	m, skip := cfg.Manager, cfg.Skipper
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if skip != nil && skip(c) {
				return next(c)
			}
			req := c.Request()
			s, sr, h := core.BeginRequestWith[hook](m, req)
			h.install(m, s, c)
			defer func() {
				h.restore()
				c.SetRequest(req)
				m.Release(s)
			}()
			c.SetRequest(sr)
			err := next(c)
			if err != nil && !h.sw.Failed() {
				c.Error(err)
			}
			h.sw.Finish()
			return err
		}
	}
}

// Get returns the session of the request, from the innermost sessionkit
// middleware. It panics when the middleware is not installed, which is a
// programming error; use core.FromContext(c.Request().Context()) to check
// instead.
func Get(c echo.Context) *core.Session {
	s, ok := core.FromContext(c.Request().Context())
	if !ok {
		panic("sessionkit: echosession.Get: no session in the request context; is the middleware installed?")
	}
	return s
}
