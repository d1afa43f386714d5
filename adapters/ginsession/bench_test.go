package ginsession_test

import (
	"io"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/sessionkit/conformance"
)

// BenchmarkBare is the baseline: Gin with the same catch-all route as
// mountGin, without the middleware.
func BenchmarkBare(b *testing.B) {
	r := gin.New()
	r.Any("/*path", func(c *gin.Context) { _, _ = io.WriteString(c.Writer, "ok") })
	conformance.BenchmarkHandler(b, r)
}

// BenchmarkAdapter measures an untouched session, a read, an update and a
// renew of a ten-value session behind the middleware.
func BenchmarkAdapter(b *testing.B) { conformance.BenchmarkAdapter(b, mountGin) }
