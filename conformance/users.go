package conformance

import (
	"testing"

	"github.com/sessionkit/sessionkit/core"
)

// TestUserSessions runs the Manager-level checks of a user's sessions
// against the stores returned by newStore (a fresh, empty store per
// subtest): a core.Manager on the store lists a user's sessions, and
// EndSession and EndUserSessions end them for good while 16 concurrent
// requests keep writing and renewing them ("EndUnderLoad"), and expired
// sessions are neither listed nor counted ("NoGhosts", skipped under
// -short).
//
// TestStore runs the same checks for stores that implement
// core.UserIndexer. Call TestUserSessions for a store that lists its
// sessions only through core.Iterator, the Manager's O(sessions)
// fallback. The store must implement core.CompareAndSwapper (without it
// an in-flight request can write an ended session back) and one of
// core.UserIndexer and core.Iterator.
func TestUserSessions(t *testing.T, newStore func(t *testing.T) core.Store) {
	t.Helper()
	probe := newStore(t)
	if probe == nil {
		t.Fatal("newStore returned nil")
	}
	_, cas := probe.(core.CompareAndSwapper)
	_, idx := probe.(core.UserIndexer)
	_, iter := probe.(core.Iterator)
	if !cas || (!idx && !iter) {
		t.Fatalf("conformance: TestUserSessions: %T needs core.CompareAndSwapper and one of core.UserIndexer and core.Iterator", probe)
	}
	g := storeGroup{name: "UserSessions"}
	for _, c := range storeUserChecks {
		if c.name != "EndUnderLoad" && c.name != "NoGhosts" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			storeRunCheck(t, newStore, g, c, StoreOptions{})
		})
	}
}
