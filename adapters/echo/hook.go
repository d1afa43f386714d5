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
	sw      *nethttp.Writer
	orig    http.ResponseWriter // c.Response().Writer as the middleware found it
	c       echo.Context
	onError func(http.ResponseWriter, *http.Request, error) // handleError, bound once
}

var hookPool = sync.Pool{New: func() any {
	h := new(hook)
	h.onError = h.handleError
	return h
}}

// getHook returns a pooled hook installed in c's response.
func getHook(m *core.Manager, s *core.Session, c echo.Context) *hook {
	h := hookPool.Get().(*hook)
	res := c.Response()
	h.c, h.orig = c, res.Writer
	h.sw = nethttp.GetWriter(m, s, res.Writer, c.Request())
	h.sw.OnError = h.onError
	res.Writer = h.sw
	return h
}

// release restores the response writer and returns h to the pool.
func (h *hook) release() {
	h.c.Response().Writer = h.orig
	h.sw.Release()
	h.sw, h.orig, h.c = nil, nil, nil
	hookPool.Put(h)
}

// handleError renders a failed load or commit with Echo's HTTPErrorHandler,
// writing past the hook, which refuses all writes from now on.
func (h *hook) handleError(_ http.ResponseWriter, _ *http.Request, err error) {
	res := h.c.Response()
	res.Writer = h.orig
	defer func() { res.Writer = h.sw }()
	h.c.Error(err)
}
