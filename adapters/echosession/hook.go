package echosession

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
)

// hook puts the shared header hook into c.Response().Writer for one
// request and sends commit failures to Echo's HTTPErrorHandler. It lives
// in the allocation of the request's session (core.BeginRequestWith) and
// is never reused.
//
// The response writer the middleware found is the one sw wraps
// (sw.ResponseWriter).
type hook struct {
	sw nethttp.Writer
	m  *core.Manager
	c  echo.Context
}

// install readies h and puts it in c's response.
func (h *hook) install(m *core.Manager, s *core.Session, c echo.Context) {
	res := c.Response()
	h.c, h.m = c, m
	h.sw.Init(m, s, res.Writer, c.Request(), h)
	res.Writer = &h.sw
}

// restore puts back the response writer the middleware found.
func (h *hook) restore() {
	h.c.Response().Writer = h.sw.ResponseWriter
}

// RespondError implements nethttp.ErrorResponder: it logs a failed load
// or commit as the Manager's default ErrorHandler does and renders it
// with Echo's HTTPErrorHandler, writing past the hook, which refuses all
// writes from now on.
func (h *hook) RespondError(_ http.ResponseWriter, r *http.Request, err error) {
	h.m.LogError(r, err)
	res := h.c.Response()
	res.Writer = h.sw.ResponseWriter
	defer func() { res.Writer = &h.sw }()
	h.c.Error(err)
}
