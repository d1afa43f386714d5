// Package ginsession connects sessionkit to Gin.
//
//	r := gin.New()
//	r.Use(ginsession.Middleware(m))
//	r.GET("/", func(c *gin.Context) {
//		s := ginsession.Get(c)
//		n, _ := core.Value[int](s, "n")
//		s.Set("n", n+1)
//		c.String(http.StatusOK, "%d", n+1)
//	})
//
// There is no Save to call: the session is committed just before the
// response header leaves, whichever way the handler answers (c.JSON,
// c.String, c.Redirect, c.AbortWithStatus, c.File, c.Stream, c.SSEvent,
// c.Writer.Flush, ...), and after the handler chain returns when it wrote
// nothing, before Gin sends the header itself.
//
// Gin's c.Writer.WriteHeader (and c.Status) only records the status: the
// header leaves, and the session is committed, at the first write, flush
// or WriteHeaderNow. A session change made after c.Status but before the
// first write is therefore saved on Gin, where on net/http and Echo, whose
// WriteHeader sends the header at once, it comes too late (it is logged
// and dropped). For the same reason a WebSocket upgrade that writes its
// 101 status with WriteHeader and then hijacks the connection does not
// reach the client on Gin, with or without this middleware; libraries
// that hijack first and write the 101 themselves (gorilla/websocket) work.
package ginsession

import (
	"github.com/gin-gonic/gin"

	"github.com/sessionkit/sessionkit/core"
)

// Middleware returns Gin middleware that gives every request a session
// from m. Handlers get it with Get(c), or with core.FromContext on
// c.Request.Context(). The session is loaded on first use and committed
// just before the response header is sent.
//
// The middleware replaces c.Writer, for the rest of the chain, with a
// gin.ResponseWriter that commits the session before the header leaves,
// and restores c.Writer and c.Request when the chain has returned.
//
// When loading or saving the session fails before the header was sent,
// the Manager's ErrorHandler (core.Config.ErrorHandler; by default a 500
// Internal Server Error) answers the request instead of the handler,
// later writes by the handler fail with nethttp.ErrResponseFailed, the
// error is added to c.Errors with c.Error, and the rest of the chain is
// aborted with c.Abort. A handler that needs the response itself can check
// Session.Err first.
func Middleware(m *core.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		req := c.Request
		s, sr, w := core.BeginRequestWith[responseWriter](m, req)
		w.init(m, s, c)
		defer func() {
			c.Writer, c.Request = w.ResponseWriter, req // the writer it found
			m.Release(s)
		}()
		c.Writer = w
		c.Request = sr
		c.Next()
		w.hook.Finish()
	}
}

// Get returns the session of the request, from the innermost
// sessionkit middleware. It panics when the middleware is not installed,
// which is a programming error; use core.FromContext(c.Request.Context())
// to check instead.
func Get(c *gin.Context) *core.Session {
	s, ok := core.FromContext(c.Request.Context())
	if !ok {
		panic("sessionkit: ginsession.Get: no session in the request context; is the middleware installed?")
	}
	return s
}
