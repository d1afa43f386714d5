package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/sessionkit/adapters/ginsession"
	"github.com/sessionkit/sessionkit/core"
)

// mountGin serves the routes with a Gin engine.
func mountGin(m *core.Manager) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), ginsession.Middleware(m))
	for _, rt := range routes(m) {
		h := rt.h
		r.Handle(rt.method, rt.path, func(c *gin.Context) {
			h(c.Writer, c.Request, ginsession.Get(c))
		})
	}
	return r
}
