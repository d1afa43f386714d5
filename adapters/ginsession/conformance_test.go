package ginsession_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/sessionkit/adapters/ginsession"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/adaptertest"
)

// mountGin serves h for every method and path behind the Gin middleware.
func mountGin(m *core.Manager, h conformance.Handler) http.Handler {
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.Any("/*path", func(c *gin.Context) { h(c.Writer, c.Request, ginsession.Get(c)) })
	return r
}

func TestConformance(t *testing.T) {
	conformance.TestAdapter(t, mountGin)
}

// TestFailureLogged checks that a failed load or save is logged like
// net/http's.
func TestFailureLogged(t *testing.T) {
	adaptertest.TestFailureLogged(t, mountGin)
}

// TestConformanceClientStore runs the adapter suite with client-side
// sessions (stores/cookie), with and without a revocation list.
func TestConformanceClientStore(t *testing.T) {
	conformance.TestAdapterClientSide(t, mountGin)
}

// TestObserver checks that every core.Observer event fires exactly once
// per occurrence behind this adapter.
func TestObserver(t *testing.T) {
	conformance.TestObserver(t, mountGin)
}
