package echosession_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sessionkit/sessionkit/adapters/echosession"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/adaptertest"
)

// mountEcho serves h for every method and path behind the Echo middleware.
func mountEcho(m *core.Manager, h conformance.Handler) http.Handler {
	e := newEcho()
	e.Use(echosession.Middleware(m))
	e.Any("/*", func(c echo.Context) error {
		h(c.Response(), c.Request(), echosession.Get(c))
		return nil
	})
	return e
}

func TestConformance(t *testing.T) {
	conformance.TestAdapter(t, mountEcho)
}

// TestFailureLogged checks that a failed load or save, which Echo's
// HTTPErrorHandler answers, is logged like net/http's.
func TestFailureLogged(t *testing.T) {
	adaptertest.TestFailureLogged(t, mountEcho)
}

// TestConformanceClientStore runs the adapter suite with client-side
// sessions (stores/cookie), with and without a revocation list.
func TestConformanceClientStore(t *testing.T) {
	conformance.TestAdapterClientSide(t, mountEcho)
}

// TestObserver checks that every core.Observer event fires exactly once
// per occurrence behind this adapter.
func TestObserver(t *testing.T) {
	conformance.TestObserver(t, mountEcho)
}
