package main

import (
	"net/http"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
)

// mountNetHTTP serves the routes with net/http's ServeMux.
func mountNetHTTP(m *core.Manager) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes(m) {
		pattern := rt.method + " " + rt.path
		if rt.path == "/" {
			pattern += "{$}"
		}
		h := rt.h
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			h(w, r, nethttp.Get(r))
		})
	}
	return nethttp.Middleware(m)(mux)
}
