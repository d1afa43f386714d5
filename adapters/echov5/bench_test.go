package echov5_test

import (
	"io"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/sessionkit/sessionkit/conformance"
)

func bareEcho() *echo.Echo {
	e := newEcho()
	e.Any("/*", func(c *echo.Context) error {
		_, err := io.WriteString(c.Response(), "ok")
		return err
	})
	return e
}

// BenchmarkBare is the baseline: Echo with the same catch-all route as
// mountEcho, without the middleware.
func BenchmarkBare(b *testing.B) { conformance.BenchmarkHandler(b, bareEcho()) }

// BenchmarkBareMiddleware is the bare handler behind a middleware that does
// nothing. Echo v5 builds the middleware chain once, in e.Use, not on every
// request as v4 does.
func BenchmarkBareMiddleware(b *testing.B) {
	e := bareEcho()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error { return next(c) }
	})
	conformance.BenchmarkHandler(b, e)
}

// BenchmarkAdapter measures an untouched session, a read, an update and a
// renew of a ten-value session behind the middleware.
func BenchmarkAdapter(b *testing.B) { conformance.BenchmarkAdapter(b, mountEcho) }
