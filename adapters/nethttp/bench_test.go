package nethttp_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
)

// BenchmarkBare is the baseline: the handler without the middleware.
func BenchmarkBare(b *testing.B) {
	conformance.BenchmarkHandler(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
}

// BenchmarkAdapter measures an untouched session, a read, an update and a
// renew of a ten-value session behind the middleware.
func BenchmarkAdapter(b *testing.B) { conformance.BenchmarkAdapter(b, mountNetHTTP) }
