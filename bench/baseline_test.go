package bench

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
)

// The baselines answer every route the way the session handlers do, but
// without a session: the cost of the framework and the harness alone.

func init() {
	gin.SetMode(gin.ReleaseMode)
}

func bareNetHTTP(tb testing.TB) *target { return bareNetHTTPWith(tb, nil) }

// bareNetHTTPWith is bareNetHTTP behind mw (none when nil).
func bareNetHTTPWith(_ testing.TB, mw func(http.Handler) http.Handler) *target {
	mux := http.NewServeMux()
	for _, p := range []string{"/untouched", "/new", "/seed", "/update", "/renew"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) })
	}
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(readBody(readWant)) })
	if mw != nil {
		return &target{h: mw(mux), close: func() {}}
	}
	return &target{h: mux, close: func() {}}
}

func bareGin(tb testing.TB) *target { return bareGinWith(tb) }

// bareGinWith is bareGin with the middlewares mws.
func bareGinWith(_ testing.TB, mws ...gin.HandlerFunc) *target {
	r := gin.New()
	if len(mws) > 0 {
		r.Use(mws...)
	}
	for _, p := range []string{"/untouched", "/new", "/seed", "/update", "/renew"} {
		r.GET(p, func(c *gin.Context) { _, _ = c.Writer.Write(okBody) })
	}
	r.GET("/read", func(c *gin.Context) { _, _ = c.Writer.Write(readBody(readWant)) })
	return &target{h: r, close: func() {}}
}

func bareEcho(tb testing.TB) *target { return bareEchoWith(tb) }

// bareEchoWith is bareEcho with the middlewares mws (e.Use).
func bareEchoWith(_ testing.TB, mws ...echo.MiddlewareFunc) *target {
	e := echo.New()
	if len(mws) > 0 {
		e.Use(mws...)
	}
	for _, p := range []string{"/untouched", "/new", "/seed", "/update", "/renew"} {
		e.GET(p, func(c echo.Context) error { _, err := c.Response().Write(okBody); return err })
	}
	e.GET("/read", func(c echo.Context) error { _, err := c.Response().Write(readBody(readWant)); return err })
	return &target{h: e, close: func() {}}
}

var baselines = []contender{
	{name: "baseline-nethttp", framework: "nethttp", memory: true, open: bareNetHTTP},
	{name: "baseline-gin", framework: "gin", memory: true, open: bareGin},
	{name: "baseline-echo", framework: "echo", memory: true, open: bareEcho},
}
