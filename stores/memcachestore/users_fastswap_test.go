package memcachestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/stores/memcachestore"
)

// TestUserIndexFastSwapKeepsFiling loads a filed record (so the store
// remembers its CAS id) and swaps it in one round trip: the swap must keep
// the record filed, so that a later logout (CompareAndSwapUser with no
// user) finds the list to take the key off.
func TestUserIndexFastSwapKeepsFiling(t *testing.T) {
	ctx := context.Background()
	m := userModes(t)[0]
	s, prefix := m.store(t, memcachestore.Config{})
	exp := time.Now().Add(time.Minute)
	k := newKey()
	v, err := s.CompareAndSwapUser(ctx, k, 0, []byte("a"), exp, "mia", exp)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rec, found, err := s.Load(ctx, k)
		if err != nil || !found || rec.Version != v {
			t.Fatalf("Load = %v, %v, %v, want version %d", found, rec.Version, err, v)
		}
		if v, err = s.CompareAndSwap(ctx, k, v, []byte("b"), exp); err != nil {
			t.Fatal(err)
		}
	}
	checkKeys(t, s, "mia", k)
	if _, err := s.CompareAndSwapUser(ctx, k, v, []byte("c"), exp, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := listLen(t, m.client, prefix, "mia"); n > 0 {
		t.Errorf("mia's list after logout holds %d entries, want none: the fast swap lost the record's filing", n)
	}
	checkKeys(t, s, "mia")
}
