package cookie_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// withRevocations runs the suite with a memory revocation list: ended
// tokens stop working at once, as with a server-side store.
func withRevocations() conformance.AdapterOptions {
	return conformance.AdapterOptions{NewClientStore: func(t *testing.T) core.ClientStore {
		list := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { list.Close() })
		st, err := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Revocations: list})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}}
}

// withoutRevocations runs the suite with no revocation list: an ended
// token keeps working until its deadline (documented).
func withoutRevocations() conformance.AdapterOptions {
	return conformance.AdapterOptions{
		KeepsEndedTokens: true,
		NewClientStore: func(t *testing.T) core.ClientStore {
			return testStore(t, fixedKey(1), fixedKey(2))
		},
	}
}

func TestConformance(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		t.Run("Revocations", func(t *testing.T) { conformance.TestAdapterWith(t, mount, withRevocations()) })
		t.Run("NoRevocations", func(t *testing.T) { conformance.TestAdapterWith(t, mount, withoutRevocations()) })
	})
}
