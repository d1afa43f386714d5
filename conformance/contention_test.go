package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func TestContentionOnMemory(t *testing.T) {
	TestContention(t, sharedMemory(func(m *memory.Store) core.Store { return m }), ContentionOptions{})
}

func TestContentionOverHTTPOnMemory(t *testing.T) {
	TestContention(t, sharedMemory(func(m *memory.Store) core.Store { return m }), ContentionOptions{Mount: testAdapter(brokenKnobs{})})
}

// TestContentionCatchesBrokenSetups: the contention round must fail on a
// backend whose compare-and-swap is not atomic, and on a Manager that
// gives up before the contention is over.
func TestContentionCatchesBrokenSetups(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func(t *testing.T, n int) []core.Store
		opts ContentionOptions
	}{
		{"swap in two steps", sharedMemory(func(m *memory.Store) core.Store { return casTwoStep{m} }), ContentionOptions{Managers: 3}},
		{"give up early", sharedMemory(func(m *memory.Store) core.Store {
			f := NewFaultyStore(m)
			f.SetLatency(time.Millisecond)
			return f.Store()
		}), ContentionOptions{Writers: 16, Keys: 4, Configure: func(cfg *core.Config) { cfg.CommitTimeout = 3 * time.Millisecond }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{1, 3} {
				if tc.name == "swap in two steps" && n == 1 {
					continue // one Manager serialises its commits: the race needs several
				}
				res, err := RunContention(tc.new(t, n), tc.opts)
				if err == nil {
					err = res.Err()
				} // else: even the round's setup failed, as it may for the giving-up Manager on a loaded machine
				if err == nil {
					t.Fatalf("%d Manager(s): contention round passed (%+v), want a failure", n, res)
				}
				if msg := err.Error(); !strings.Contains(msg, " = ") || !strings.Contains(msg, "(rule: ") {
					t.Errorf("failure message %q does not read Op(args) = got, want want (rule: ...)", msg)
				}
				t.Logf("fails as it should: %v", err)
			}
		})
	}
}
