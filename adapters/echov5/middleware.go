// Package echov5 connects sessionkit to Echo v5. It has the API of the
// Echo v4 adapter (package echosession in
// github.com/sessionkit/sessionkit/adapters/echosession), so that moving to
// Echo v5 changes the import, the package name and echo.Context to
// *echo.Context, nothing else. The package is named after its directory so
// that goimports finds it.
//
//	e := echo.New()
//	e.Use(echov5.Middleware(m))
//	e.GET("/", func(c *echo.Context) error {
//		s := echov5.Get(c)
//		n, _ := core.Value[int](s, "n")
//		s.Set("n", n+1)
//		return c.String(http.StatusOK, strconv.Itoa(n+1))
//	})
//
// There is no Save to call: the session is committed just before the
// response header leaves, whichever way the handler answers (c.JSON,
// c.String, c.Redirect, c.NoContent, c.File, c.Stream, a flush through
// http.NewResponseController(c.Response()), a returned error rendered by
// the HTTPErrorHandler, ...), and after the handler returns when nothing
// was written.
package echov5

import (
	"github.com/labstack/echo/v5"

	"github.com/sessionkit/sessionkit/core"
)

// Config configures MiddlewareWithConfig.
type Config struct {
	// Manager runs the session life cycle. Required.
	Manager *core.Manager

	// Skipper, when it returns true, passes the request on without a
	// session. It accepts Echo's middleware.Skipper functions. Default:
	// nil, no request is skipped.
	Skipper func(c *echo.Context) bool
}

// Middleware returns Echo middleware that gives every request a session
// from m; see MiddlewareWithConfig.
func Middleware(m *core.Manager) echo.MiddlewareFunc {
	return MiddlewareWithConfig(Config{Manager: m})
}

// MiddlewareWithConfig returns Echo middleware that gives every request a
// session from cfg.Manager. Handlers get it with Get(c), or with
// core.FromContext on c.Request().Context(). The session is loaded on
// first use and committed just before the response header is sent: for
// the rest of the chain, c.Response() is the header hook of package
// nethttp around the response the middleware found (which
// echo.UnwrapResponse still reaches). Functions registered with
// echo.Response.Before run after the commit: change the session before
// answering, not in them (a change made in one is logged and dropped;
// with Echo v4, package echosession, they run before the commit).
//
// An error returned by the handler is rendered with Echo's
// HTTPErrorHandler inside the middleware, so that the error page carries
// the session cookie too, and then returned; Echo's default
// HTTPErrorHandler does not answer a committed response twice, and a
// custom one should check echo.UnwrapResponse(c.Response()) for Committed
// as well.
//
// When loading or saving the session fails before the header was sent,
// the handler's writes fail with nethttp.ErrResponseFailed and nothing of
// its response is sent; once it has returned, the error is logged with the
// Manager's logger, as the other adapters do, and Echo's HTTPErrorHandler
// answers the request (with the default handler: 500 Internal Server
// Error). core.Config.ErrorHandler is not used by this adapter.
//
// MiddlewareWithConfig panics when cfg.Manager is nil.
func MiddlewareWithConfig(cfg Config) echo.MiddlewareFunc {
	if cfg.Manager == nil {
		panic("sessionkit: echov5: Config.Manager is required")
	}
	m, skip := cfg.Manager, cfg.Skipper
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
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
				c.Echo().HTTPErrorHandler(c, err)
			}
			h.sw.Finish()
			if h.sw.Failed() {
				h.renderFailure()
			}

			return err
		}
	}
}

// Get returns the session of the request, from the innermost sessionkit
// middleware. It panics when the middleware is not installed, which is a
// programming error; use core.FromContext(c.Request().Context()) to check
// instead.
func Get(c *echo.Context) *core.Session {
	s, ok := core.FromContext(c.Request().Context())
	if !ok {
		panic("sessionkit: echov5.Get: no session in the request context; is the middleware installed?")
	}
	return s
}
