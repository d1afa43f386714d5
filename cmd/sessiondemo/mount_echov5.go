package main

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/sessionkit/sessionkit/adapters/echov5"
	"github.com/sessionkit/sessionkit/core"
)

// mountEchoV5 serves the routes with an Echo v5 instance.
func mountEchoV5(m *core.Manager) http.Handler {
	e := echo.New()
	e.Logger = m.Logger() // Echo v5 logs with log/slog: the demo's logger
	e.Use(echov5.Middleware(m))
	for _, rt := range routes(m) {
		h := rt.h
		e.Add(rt.method, rt.path, func(c *echo.Context) error {
			h(c.Response(), c.Request(), echov5.Get(c))
			return nil
		})
	}
	return e
}
