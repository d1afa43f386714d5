// Package nethttp connects sessionkit to net/http: a middleware of the
// standard shape func(http.Handler) http.Handler, with the session in the
// request context.
package nethttp

import (
	"log/slog"
	"net/http"

	"github.com/sessionkit/sessionkit/core"
)

// Middleware returns middleware that gives every request a session from m.
// Handlers get it with Get (or core.FromContext). The session is loaded on
// first use and committed just before the response header is sent.
func Middleware(m *core.Manager) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, sr, sw := core.BeginRequestWith[Writer](m, r)
			sw.Init(m, s, w, r, nil)
			defer m.Release(s)
			next.ServeHTTP(sw, sr)
			sw.Finish()
		})
	}
}

// Get returns the session of the request, from the innermost sessionkit
// middleware. It panics when the middleware is not installed, which is a
// programming error; use core.FromContext to check instead.
func Get(r *http.Request) *core.Session {
	s, ok := core.FromContext(r.Context())
	if !ok {
		panic("sessionkit: nethttp.Get: no session in the request context; is the middleware installed?")
	}
	return s
}

func slogError(err error) slog.Attr { return slog.Any("error", err) }
