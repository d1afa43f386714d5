package ginsession

import (
	"bufio"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
)

// responseWriter is the gin.ResponseWriter the middleware puts in
// c.Writer. Gin defers the status: WriteHeader only records it, and the
// header leaves on WriteHeaderNow, Write, WriteString, Flush or Hijack, or
// when the engine calls WriteHeaderNow after the chain. The session is
// committed on the first of these (through the shared nethttp.Writer
// hook), not on WriteHeader, so changes made between c.Status and the
// first byte still reach the client. Status, Size, Written, Pusher and
// CloseNotify are Gin's own.
type responseWriter struct {
	gin.ResponseWriter                // c.Writer as the middleware found it
	hook               nethttp.Writer // the shared header hook
	m                  *core.Manager
	c                  *gin.Context
}

// init readies w, which lives in the allocation of s and its request
// (core.BeginRequestWith, never reused), around c.Writer.
func (w *responseWriter) init(m *core.Manager, s *core.Session, c *gin.Context) {
	w.ResponseWriter, w.m, w.c = c.Writer, m, c
	w.hook.Init(m, s, c.Writer, c.Request, w)
}

// RespondError implements nethttp.ErrorResponder: it answers a failed
// load or commit with the Manager's error handler, writing to Gin's own
// writer, and records the error in Gin.
func (w *responseWriter) RespondError(rw http.ResponseWriter, r *http.Request, err error) {
	_ = w.c.Error(err)
	w.c.Abort()
	w.m.HandleError(rw, r, err)
}

// commit runs the header hook unless Gin has sent the header already,
// and reports whether the response may go on.
func (w *responseWriter) commit() bool {
	if !w.ResponseWriter.Written() {
		w.hook.WriteHeader(w.ResponseWriter.Status()) // commits; Gin only records the status
	}
	return !w.hook.Failed()
}

// WriteHeader records the status, as Gin does; the header leaves later.
// An informational (1xx) header is sent at once past Gin's deferred status,
// when Gin's writer can be unwrapped, and does not commit the session.
func (w *responseWriter) WriteHeader(code int) {
	if w.hook.Failed() {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols && !w.ResponseWriter.Written() {
		if u, ok := w.ResponseWriter.(interface{ Unwrap() http.ResponseWriter }); ok {
			u.Unwrap().WriteHeader(code)
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// WriteHeaderNow commits the session, then sends the header.
func (w *responseWriter) WriteHeaderNow() {
	if w.commit() {
		w.ResponseWriter.WriteHeaderNow()
	}
}

// Write commits the session, then writes b.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.commit() {
		return 0, nethttp.ErrResponseFailed
	}
	return w.ResponseWriter.Write(b)
}

// WriteString commits the session, then writes s.
func (w *responseWriter) WriteString(s string) (int, error) {
	if !w.commit() {
		return 0, nethttp.ErrResponseFailed
	}
	return w.ResponseWriter.WriteString(s)
}

// Flush commits the session, then flushes.
func (w *responseWriter) Flush() {
	if w.commit() {
		w.ResponseWriter.Flush()
	}
}

// Hijack disarms the header hook and hands over the connection.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.hook.Hijack()
}

// Unwrap returns Gin's writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
