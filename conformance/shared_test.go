package conformance

import (
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// sharedMemory returns n handles on one memory store, each wrapped: the
// reference for a store whose instances share a backend.
func sharedMemory(wrap func(*memory.Store) core.Store) func(t *testing.T, n int) []core.Store {
	return func(t *testing.T, n int) []core.Store {
		m := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { m.Close() })
		out := make([]core.Store, n)
		for i := range out {
			out[i] = wrap(m)
		}
		return out
	}
}

func TestSharedStoreOnMemory(t *testing.T) {
	TestSharedStore(t, sharedMemory(func(m *memory.Store) core.Store { return m }))
}

// separateMemory returns n memory stores that share nothing: instances
// that do not see each other's records.
func separateMemory(t *testing.T, n int) []core.Store {
	out := make([]core.Store, n)
	for i := range out {
		m := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { m.Close() })
		out[i] = m
	}
	return out
}

// sharedBrokenBackends are backends that break the shared-store rules and
// the checks each must fail.
var sharedBrokenBackends = []struct {
	name  string
	new   func(t *testing.T, n int) []core.Store
	fails []string
}{
	{"keep their own records", separateMemory, []string{"SeeEachOther", "ConcurrentIncrements", "Managers",
		"ContendedTwoManagers", "ContendedFourManagers"}},
	{"swap in two steps", sharedMemory(func(m *memory.Store) core.Store { return casTwoStep{m} }), []string{"ConcurrentIncrements", "Managers",
		"ContendedTwoManagers", "ContendedFourManagers"}},
}

// TestSharedChecksCatchBrokenBackends runs the shared-store checks against
// the broken backends: each named check must fail, with a message that
// names its rule.
func TestSharedChecksCatchBrokenBackends(t *testing.T) {
	for _, c := range sharedBrokenBackends {
		t.Run(c.name, func(t *testing.T) {
			for _, name := range c.fails {
				var check *sharedCheck
				for i := range sharedChecks {
					if sharedChecks[i].name == name {
						check = &sharedChecks[i]
					}
				}
				if check == nil {
					t.Fatalf("no shared check %q", name)
				}
				err := check.run(t.Context(), c.new(t, check.instances))
				switch {
				case err == nil:
					t.Errorf("check %s passed on instances that %s", name, c.name)
				case !strings.Contains(err.Error(), " (rule: "):
					t.Errorf("check %s: message %q does not name its rule", name, err)
				default:
					t.Logf("%s: %v", name, err)
				}
			}
		})
	}
}

// TestSharedChecksAllCovered requires every shared check to be listed as
// failing on at least one broken backend.
func TestSharedChecksAllCovered(t *testing.T) {
	covered := map[string]bool{}
	for _, b := range sharedBrokenBackends {
		for _, name := range b.fails {
			covered[name] = true
		}
	}
	for _, c := range sharedChecks {
		if !covered[c.name] {
			t.Errorf("shared check %s has no broken backend that fails it", c.name)
		}
	}
}
