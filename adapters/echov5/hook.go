package echov5

import (
	"net/http"
	"sync"

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
type hook struct {
	sw   nethttp.Writer // kept in this allocation; its OnError is keepError, bound once
	m    *core.Manager
	c    *echo.Context
	orig http.ResponseWriter // c.Response() as the middleware found it
	err  error               // the failed load or commit, until rendered
}

var hookPool = sync.Pool{New: func() any {
	h := new(hook)
	h.sw.OnError = h.keepError // Init and Reset keep it
	return h
}}

// getHook returns a pooled hook installed as c's response.
func getHook(m *core.Manager, s *core.Session, c *echo.Context) *hook {
	h := hookPool.Get().(*hook)
	h.c, h.m, h.orig = c, m, c.Response()
	h.sw.Init(m, s, h.orig, c.Request())
	c.SetResponse(&h.sw)
	return h
}

// release restores c's response and returns h to the pool.
func (h *hook) release() {
	h.c.SetResponse(h.orig)
	h.sw.Reset()
	h.m, h.c, h.orig, h.err = nil, nil, nil, nil
	hookPool.Put(h)
}

// keepError is the hook's OnError: nothing has been sent, and the hook
// refuses all writes from now on.
func (h *hook) keepError(_ http.ResponseWriter, _ *http.Request, err error) {
	h.err = err
}

// renderFailure logs the failed load or commit as the Manager's default
// ErrorHandler does and lets Echo's HTTPErrorHandler answer, past the
// hook, without what the handler put in the header.
func (h *hook) renderFailure() {
	h.m.LogError(h.c.Request(), h.err)
	clear(h.orig.Header())
	h.c.SetResponse(h.orig)
	h.c.Echo().HTTPErrorHandler(h.c, h.err)
}
