package nethttp

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/sessionkit/sessionkit/core"
)

// ErrResponseFailed is returned by writes after the session could not be
// committed and the error handler has answered the request instead.
var ErrResponseFailed = errors.New("sessionkit: response replaced by the error handler")

// Writer wraps a response so that the session is committed exactly once,
// just before the header leaves: on WriteHeader (but not for 1xx), Write,
// ReadFrom, Flush and FlushError. Hijack disarms it.
//
// A Writer lives in the allocation of its request's session (see
// core.BeginRequestWith) and is never reused: a handler that keeps the
// ResponseWriter past its request writes to that request's response, not
// to another visitor's, as it could through a pooled wrapper. (On Gin and
// Echo v5 the writer it wraps is the framework's, which the framework
// reuses for later requests; there a kept writer reaches them all the
// same.)
//
// Adapter API: adapters for other frameworks reuse it (the Gin and Echo
// adapters do); application code uses Middleware and Get, never Writer.
type Writer struct {
	http.ResponseWriter
	m       *core.Manager
	s       *core.Session
	r       *http.Request
	onError ErrorResponder // nil: the Manager's HandleError
	state   writerState
}

// ErrorResponder answers a request whose session could not be loaded or
// committed before the header was sent. Adapters whose framework has its
// own error handling pass one to Writer.Init; a pointer to the adapter's
// per-request state implements it without an allocation, where a bound
// method value would need one.
//
// Adapter API: application code configures core.Config.ErrorHandler instead.
type ErrorResponder interface {
	// RespondError writes the response for err to w, the wrapped writer.
	RespondError(w http.ResponseWriter, r *http.Request, err error)
}

type writerState uint8

const (
	armed     writerState = iota // header not sent yet
	committed                    // committed; header sent or about to be
	failed                       // commit failed; error handler answered
	hijacked                     // connection taken over
)

// Init readies sw to commit s before the header of w leaves. onError
// answers a failed commit; nil means the Manager's HandleError (its
// core.Config.ErrorHandler). Call Finish after the handler returned.
func (sw *Writer) Init(m *core.Manager, s *core.Session, w http.ResponseWriter, r *http.Request, onError ErrorResponder) {
	*sw = Writer{ResponseWriter: w, m: m, s: s, r: r, onError: onError}
}

// commit runs the header hook once. It reports whether writing may go on.
func (sw *Writer) commit() bool {
	switch sw.state {
	case armed:
	case failed:
		return false
	default:
		return true
	}
	if err := sw.m.Commit(sw.s, sw.ResponseWriter.Header()); err != nil {
		sw.state = failed
		sw.fail(err)
		return false
	}
	sw.state = committed
	return true
}

// fail drops what the handler put in the header and lets the error
// handler answer instead.
func (sw *Writer) fail(err error) {
	clear(sw.ResponseWriter.Header())
	if sw.onError != nil {
		sw.onError.RespondError(sw.ResponseWriter, sw.r, err)
		return
	}
	sw.m.HandleError(sw.ResponseWriter, sw.r, err)
}

// Finish commits the session after the handler returned: with the header
// when nothing was written, otherwise a late commit that saves what still
// can be saved. A failure is answered by the error handler when the header
// is still unsent and logged otherwise.
func (sw *Writer) Finish() {
	switch sw.state {
	case armed:
		sw.commit()
	case committed, hijacked:
		if err := sw.m.Commit(sw.s, nil); err != nil {
			sw.m.Logger().LogAttrs(sw.r.Context(), slog.LevelError, "sessionkit: saving the session after the response was sent failed",
				slogError(err))
		}
	}
}

// Failed reports whether the commit failed and the error handler answered.
func (sw *Writer) Failed() bool { return sw.state == failed }

// WriteHeader commits the session, then sends the header. Informational
// (1xx) headers pass through without a commit.
func (sw *Writer) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		sw.ResponseWriter.WriteHeader(code)
		return
	}
	if sw.commit() {
		sw.ResponseWriter.WriteHeader(code)
	}
}

// Write commits the session, then writes b.
func (sw *Writer) Write(b []byte) (int, error) {
	if !sw.commit() {
		return 0, ErrResponseFailed
	}
	return sw.ResponseWriter.Write(b)
}

// ReadFrom commits the session, then copies from src, using the wrapped
// writer's ReadFrom (sendfile) when it has one.
func (sw *Writer) ReadFrom(src io.Reader) (int64, error) {
	if !sw.commit() {
		return 0, ErrResponseFailed
	}
	if rf, ok := sw.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{sw.ResponseWriter}, src)
}

// Flush commits the session, then flushes.
func (sw *Writer) Flush() {
	_ = sw.FlushError()
}

// FlushError commits the session, then flushes, reporting errors.
func (sw *Writer) FlushError() error {
	if !sw.commit() {
		return ErrResponseFailed
	}
	return http.NewResponseController(sw.ResponseWriter).Flush()
}

// Hijack disarms the header hook and hands over the connection. Session
// changes are still saved after the handler returns when the token does not
// change.
func (sw *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if sw.state == failed {
		return nil, nil, ErrResponseFailed
	}
	conn, rw, err := http.NewResponseController(sw.ResponseWriter).Hijack()
	if err == nil {
		sw.state = hijacked
	}
	return conn, rw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (sw *Writer) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }
