package conformance

import (
	"bytes"
	"testing"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestAdapterClientSide runs the adapter suite with client-side sessions
// (stores/cookie sealing the whole session into the token), so that an
// adapter is shown to behave the same whatever keeps the session: subtest
// "Revocations" with a revocation list, where ended tokens stop working at
// once and "Features/ClientUserSessions" shows EndUserSessions logging a
// user's other devices out for good, and "NoRevocations" without one,
// where ended tokens keep working until their deadline
// (AdapterOptions.KeepsEndedTokens) and EndUserSessions must refuse with
// core.ErrNotSupported.
func TestAdapterClientSide(t *testing.T, mount Mount) {
	t.Helper()
	key := bytes.Repeat([]byte{1}, cookie.KeySize)
	newStore := func(t *testing.T, revocations core.Store) core.ClientStore {
		st, err := cookie.New(cookie.Config{Keys: [][]byte{key}, Revocations: revocations})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	t.Run("Revocations", func(t *testing.T) {
		TestAdapterWith(t, mount, AdapterOptions{NewClientStore: func(t *testing.T) core.ClientStore {
			list := memory.New(memory.Config{CleanupInterval: -1})
			t.Cleanup(func() { list.Close() })
			return newStore(t, list)
		}})
	})
	t.Run("NoRevocations", func(t *testing.T) {
		TestAdapterWith(t, mount, AdapterOptions{KeepsEndedTokens: true, NewClientStore: func(t *testing.T) core.ClientStore {
			return newStore(t, nil)
		}})
	})
}
