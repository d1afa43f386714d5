package echosession

import (
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
)

// hook puts the shared header hook into c.Response().Writer for one
// request and sends commit failures to Echo's HTTPErrorHandler.
type hook struct {
	sw   nethttp.Writer // kept in this allocation; its OnError is handleError, bound once
	m    *core.Manager
	orig http.ResponseWriter // c.Response().Writer as the middleware found it
	c    echo.Context
}

var hookPool = sync.Pool{New: func() any {
	h := new(hook)
	h.sw.OnError = h.handleError // Init and Reset keep it
	return h
}}

// getHook returns a pooled hook installed in c's response.
func getHook(m *core.Manager, s *core.Session, c echo.Context) *hook {
	h := hookPool.Get().(*hook)
	res := c.Response()
	h.c, h.m, h.orig = c, m, res.Writer
	h.sw.Init(m, s, res.Writer, c.Request())
	res.Writer = &h.sw
	return h
}

// release restores the response writer and returns h to the pool.
func (h *hook) release() {
	h.c.Response().Writer = h.orig
	h.sw.Reset()
	h.m, h.orig, h.c = nil, nil, nil
	hookPool.Put(h)
}

// handleError logs a failed load or commit as the Manager's default
// ErrorHandler does and renders it with Echo's HTTPErrorHandler, writing
// past the hook, which refuses all writes from now on.
func (h *hook) handleError(_ http.ResponseWriter, r *http.Request, err error) {
	h.m.LogError(r, err)
	res := h.c.Response()
	res.Writer = h.orig
	defer func() { res.Writer = &h.sw }()
	h.c.Error(err)
}
