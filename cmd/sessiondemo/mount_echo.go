package main

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionkit/sessionkit/adapters/echosession"
	"github.com/sessionkit/sessionkit/core"
)

// mountEcho serves the routes with an Echo instance.
func mountEcho(m *core.Manager) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(echosession.Middleware(m))
	for _, rt := range routes(m) {
		h := rt.h
		e.Add(rt.method, rt.path, func(c echo.Context) error {
			h(c.Response(), c.Request(), echosession.Get(c))
			return nil
		})
	}
	return e
}
