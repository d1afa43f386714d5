package cookie_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	echosession "github.com/sessionkit/sessionkit/adapters/echo"
	ginsession "github.com/sessionkit/sessionkit/adapters/gin"
	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// mounts are the three adapters the cookie store must work behind.
var mounts = []struct {
	name  string
	mount conformance.Mount
}{
	{"nethttp", mountNetHTTP},
	{"gin", mountGin},
	{"echo", mountEcho},
}

func mountNetHTTP(m *core.Manager, h conformance.Handler) http.Handler {
	return nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, nethttp.Get(r))
	}))
}

func mountGin(m *core.Manager, h conformance.Handler) http.Handler {
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.Any("/*path", func(c *gin.Context) { h(c.Writer, c.Request, ginsession.Get(c)) })
	return r
}

func mountEcho(m *core.Manager, h conformance.Handler) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	// Echo answers session failures through its HTTPErrorHandler; route
	// them to the Manager's ErrorHandler as an application would.
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if !c.Response().Committed {
			m.HandleError(c.Response(), c.Request(), err)
		}
	}
	e.Use(echosession.Middleware(m))
	e.Any("/*", func(c echo.Context) error {
		h(c.Response(), c.Request(), echosession.Get(c))
		return nil
	})
	return e
}

// forEachAdapter runs fn as a subtest per adapter.
func forEachAdapter(t *testing.T, fn func(t *testing.T, mount conformance.Mount)) {
	for _, a := range mounts {
		t.Run(a.name, func(t *testing.T) { fn(t, a.mount) })
	}
}
