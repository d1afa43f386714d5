package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
)

// TestExpiredRecordStaysGone plants records whose header expiry has passed
// while Redis still holds them (what a PX that reached Redis late leaves
// behind): every write must treat them as absent, as Load does. Touch
// finds nothing, a compare-and-swap at their version conflicts, one at
// version zero or a Save replaces them, and a replaced record's key
// leaves the user set it was filed in.
func TestExpiredRecordStaysGone(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t)
			f := &renewFixture{s: s, client: m.client, prefix: prefix, until: time.Now().Add(time.Hour)}
			// Where the user sets share the records' slot, the scripts
			// remove a replaced record's member at once.
			oneSlot := m.name != "Cluster"
			const v = 42
			past := time.Now().Add(-time.Millisecond)
			future := time.Now().Add(time.Hour)
			gone := func(key, after string) {
				t.Helper()
				if rec, found, err := s.Load(ctx, key); found || err != nil {
					t.Errorf("Load after %s = %q, %v, %v; want not found (an expired record came back)", after, rec.Data, found, err)
				}
			}
			unlisted := func(key, user, after string) {
				t.Helper()
				if oneSlot {
					if sc, err := m.client.ZScore(ctx, userSet(prefix, user), key).Result(); !errors.Is(err, goredis.Nil) {
						t.Errorf("ZSCORE(%s, key) after %s = %v, %v; want no member", user, after, sc, err)
					}
				}
				keys, err := s.UserKeys(ctx, user)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range keys {
					if k == key {
						t.Errorf("UserKeys(%s) after %s lists the replaced record", user, after)
					}
				}
			}
			for _, owner := range []string{"", "alice"} {
				// Each write on a record of its own, planted afresh.
				planted := func() string {
					key := newKey()
					f.plant(t, key, v, past, owner)
					return key
				}
				key := planted()
				if err := s.Touch(ctx, key, future); !errors.Is(err, core.ErrNotFound) {
					t.Errorf("Touch of an expired record (filed under %q) = %v, want ErrNotFound", owner, err)
				}
				gone(key, "Touch")
				key = planted()
				if err := s.Touch(ctx, key, past); !errors.Is(err, core.ErrNotFound) {
					t.Errorf("Touch to the past of an expired record (filed under %q) = %v, want ErrNotFound", owner, err)
				}
				key = planted()
				if nv, err := s.CompareAndSwap(ctx, key, v, []byte("revived"), future); !errors.Is(err, core.ErrConflict) {
					t.Errorf("CompareAndSwap at an expired record's version (filed under %q) = %d, %v; want ErrConflict", owner, nv, err)
				}
				gone(key, "CompareAndSwap at its version")
				key = planted()
				if nv, err := s.CompareAndSwapUser(ctx, key, v, []byte("revived"), future, "alice", f.until); !errors.Is(err, core.ErrConflict) {
					t.Errorf("CompareAndSwapUser at an expired record's version (filed under %q) = %d, %v; want ErrConflict", owner, nv, err)
				}
				gone(key, "CompareAndSwapUser at its version")
				key = planted()
				nv, err := s.CompareAndSwap(ctx, key, 0, []byte("new"), future)
				if err != nil {
					t.Fatalf("CompareAndSwap(version 0) over an expired record (filed under %q) = %v, want it replaced", owner, err)
				}
				if rec, found, err := s.Load(ctx, key); err != nil || !found || string(rec.Data) != "new" || rec.Version != nv {
					t.Errorf("Load after CompareAndSwap(version 0) = %q v%d, %v, %v; want %q v%d", rec.Data, rec.Version, found, err, "new", nv)
				}
				if owner != "" {
					unlisted(key, owner, "CompareAndSwap(version 0) replaced the expired record")
				}
			}

			key := newKey()
			f.plant(t, key, v, past, "alice")
			if err := s.Save(ctx, key, []byte("saved"), future); err != nil {
				t.Fatal(err)
			}
			if rec, found, err := s.Load(ctx, key); err != nil || !found || string(rec.Data) != "saved" {
				t.Errorf("Load after Save over an expired record = %q, %v, %v", rec.Data, found, err)
			}
			unlisted(key, "alice", "Save replaced the expired record")
			// The replacement is not filed: a later write does not file it
			// again under alice.
			if err := s.Touch(ctx, key, future.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			unlisted(key, "alice", "Touch of the replacement")

			key = newKey()
			f.plant(t, key, v, past, "alice")
			if _, err := s.CompareAndSwapUser(ctx, key, 0, []byte("bob's"), future, "bob", f.until); err != nil {
				t.Fatalf("CompareAndSwapUser(version 0) over an expired record = %v, want it replaced", err)
			}
			unlisted(key, "alice", "CompareAndSwapUser(version 0, bob) replaced alice's expired record")
			checkKeys(t, s, "bob", key)
		})
	}
}

// TestRenewExpiredWithinTheMillisecond plants an old record that expired
// a fraction of a millisecond before Renew reads the clock: Renew must
// compare in nanoseconds, as Load does, not in milliseconds.
func TestRenewExpiredWithinTheMillisecond(t *testing.T) {
	for _, m := range renewModes(t) {
		t.Run(m.name, func(t *testing.T) {
			done := 0
			for try := 0; done < 5 && try < 100; try++ {
				f := newRenewFixture(t, m)
				r := f.renewal()
				// 100 µs into a millisecond 2 to 3 ms ahead: once the clock
				// has passed it, Renew reads the clock in the same
				// millisecond, where a comparison in milliseconds would see
				// the record live.
				exp := time.Now().Add(2 * time.Millisecond).Truncate(time.Millisecond).Add(100 * time.Microsecond)
				f.plant(t, f.old, f.version, exp, "alice")
				for !time.Now().After(exp) {
				}
				if time.Since(exp) > 400*time.Microsecond {
					continue // planting took too long: again
				}
				f.conflict(t, r, "an old record that expired within the millisecond")
				done++
			}
			if done < 5 {
				t.Skipf("only %d of 100 tries renewed within the millisecond of the expiry", done)
			}
		})
	}
}
