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

func bareNetHTTP(testing.TB) *target {
	mux := http.NewServeMux()
	for _, p := range []string{"/untouched", "/new", "/seed", "/update", "/renew"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) })
	}
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(readBody(readWant)) })
	return &target{h: mux, close: func() {}}
}

func bareGin(testing.TB) *target {
	r := gin.New()
	for _, p := range []string{"/untouched", "/new", "/seed", "/update", "/renew"} {
		r.GET(p, func(c *gin.Context) { _, _ = c.Writer.Write(okBody) })
	}
	r.GET("/read", func(c *gin.Context) { _, _ = c.Writer.Write(readBody(readWant)) })
	return &target{h: r, close: func() {}}
}

func bareEcho(testing.TB) *target {
	e := echo.New()
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
