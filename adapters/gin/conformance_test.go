package ginsession_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	ginsession "github.com/sessionkit/sessionkit/adapters/gin"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/adaptertest"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
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
	key := bytes.Repeat([]byte{1}, cookie.KeySize)
	t.Run("Revocations", func(t *testing.T) {
		conformance.TestAdapterWith(t, mountGin, conformance.AdapterOptions{NewClientStore: func(t *testing.T) core.ClientStore {
			list := memory.New(memory.Config{CleanupInterval: -1})
			t.Cleanup(func() { list.Close() })
			st, err := cookie.New(cookie.Config{Keys: [][]byte{key}, Revocations: list})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}})
	})
	t.Run("NoRevocations", func(t *testing.T) {
		conformance.TestAdapterWith(t, mountGin, conformance.AdapterOptions{KeepsEndedTokens: true, NewClientStore: func(t *testing.T) core.ClientStore {
			st, err := cookie.New(cookie.Config{Keys: [][]byte{key}})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}})
	})
}
