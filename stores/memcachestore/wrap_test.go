package memcachestore

import (
	"errors"
	"strings"
	"testing"
)

// TestWrapHidesItemNames feeds wrap the kinds of error text gomemcache
// produces when it quotes a reply line: whatever item the line names (the
// record of the call, another session's record, a user's list), no key and
// no item name may reach the error.
func TestWrapHidesItemNames(t *testing.T) {
	s := &Store{prefix: "sk:"}
	key := strings.Repeat("ab", 32)
	other := strings.Repeat("c7", 32)
	for _, msg := range []string{
		`memcache: unexpected line in get response: "VALUE sk:` + key + ` 0 20"`,
		`memcache: unexpected line in get response: "VALUE sk:` + other + ` 0 20"`,
		`memcache: unexpected line in get response: "VALUE sk:user:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83v.a 0 41"`,
		`corrupt reply naming ` + strings.ToUpper(other),
	} {
		err := s.wrap("user-keys", key, errors.New(msg))
		got := err.Error()
		if strings.Contains(got, "sk:") || strings.Contains(strings.ToLower(got), other) || strings.Contains(got, key) {
			t.Errorf("wrap(%q) = %q, want no key and no item name", msg, got)
		}
		if !strings.HasPrefix(got, "sessionkit: memcache: user-keys: ") {
			t.Errorf("wrap(%q) = %q, want the package and operation prefix", msg, got)
		}
	}
	// An ordinary error keeps its text.
	if got := s.wrap("load", key, errors.New("dial tcp 127.0.0.1:1: connection refused")).Error(); !strings.Contains(got, "connection refused") {
		t.Errorf("wrap of a dial error = %q, want its text kept", got)
	}
}
