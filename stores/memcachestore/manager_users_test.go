package memcachestore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/internal/userindextest"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
)

// TestManagerUserSessions drives the Manager's user API through real HTTP
// sessions on each deployment: three browsers log in as one user, the
// Manager lists them, ends two of them while their browsers keep writing,
// and the ended sessions stay ended.
func TestManagerUserSessions(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			s, _ := m.store(t, memcachestore.Config{})
			userindextest.CheckManagerUserSessions(t, s)
		})
	}
}
