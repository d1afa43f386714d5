package echov5

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
)

// hook makes the shared header hook c.Response() for one request and
// keeps a failed load or commit for Echo's HTTPErrorHandler.
//
// The failure is rendered after the handler has returned, not when it
// happens: it happens inside a write, and c.JSON writes through a writer
// that Echo keeps in the Context and would reuse for the error page.
//
// It lives in the allocation of the request's session
// (core.BeginRequestWith) and is never reused. The response the
// middleware found is the one sw wraps (sw.ResponseWriter).
type hook struct {
	sw  nethttp.Writer
	m   *core.Manager
	c   *echo.Context
	err error // the failed load or commit, until rendered
}

// install readies h and makes it c's response.
func (h *hook) install(m *core.Manager, s *core.Session, c *echo.Context) {
	h.c, h.m = c, m
	h.sw.Init(m, s, c.Response(), c.Request(), h)
	c.SetResponse(&h.sw)
}

// restore gives c back the response the middleware found.
func (h *hook) restore() {
	h.c.SetResponse(h.sw.ResponseWriter)
}

// RespondError implements nethttp.ErrorResponder: it keeps err for
// renderFailure. Nothing has been sent, and the hook refuses all writes
// from now on.
func (h *hook) RespondError(_ http.ResponseWriter, _ *http.Request, err error) {
	h.err = err
}

// renderFailure logs the failed load or commit as the Manager's default
// ErrorHandler does and lets Echo's HTTPErrorHandler answer, past the
// hook, without what the handler put in the header.
func (h *hook) renderFailure() {
	h.m.LogError(h.c.Request(), h.err)
	clear(h.sw.ResponseWriter.Header())
	h.c.SetResponse(h.sw.ResponseWriter)
	h.c.Echo().HTTPErrorHandler(h.c, h.err)
}
