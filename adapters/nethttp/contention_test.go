package nethttp_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/file"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestContention runs the contention round over HTTP through this
// adapter: 64 clients x 16 distinct keys on one session (16 x 8 with
// -short), through one Manager and through three, on the memory and the
// file store.
func TestContention(t *testing.T) {
	opts := conformance.ContentionOptions{Mount: mountNetHTTP}
	t.Run("memory", func(t *testing.T) {
		conformance.TestContention(t, func(t *testing.T, n int) []core.Store {
			st := memory.New(memory.Config{})
			t.Cleanup(func() { st.Close() })
			out := make([]core.Store, n)
			for i := range out {
				out[i] = st
			}
			return out
		}, opts)
	})
	t.Run("file", func(t *testing.T) {
		conformance.TestContention(t, func(t *testing.T, n int) []core.Store {
			dir := t.TempDir()
			out := make([]core.Store, n)
			for i := range out { // separate instances on one directory, as separate processes
				st, err := file.New(file.Config{Dir: dir})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				out[i] = st
			}
			return out
		}, opts)
	})
}
