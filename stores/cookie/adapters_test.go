package cookie_test

import (
	"net/http"
	"testing"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

// mounts are the adapters the cookie store's tests run behind. Gin and Echo
// live in modules of their own; their tests run the adapter suite with this
// store too (TestConformanceClientStore).
var mounts = []struct {
	name  string
	mount conformance.Mount
}{
	{"nethttp", mountNetHTTP},
}

func mountNetHTTP(m *core.Manager, h conformance.Handler) http.Handler {
	return nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, nethttp.Get(r))
	}))
}

// forEachAdapter runs fn as a subtest per adapter.
func forEachAdapter(t *testing.T, fn func(t *testing.T, mount conformance.Mount)) {
	for _, a := range mounts {
		t.Run(a.name, func(t *testing.T) { fn(t, a.mount) })
	}
}
