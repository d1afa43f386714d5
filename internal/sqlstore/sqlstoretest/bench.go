package sqlstoretest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// BenchmarkRenew measures moving a session to a new key, as a login does,
// in the two ways the core can: way=renew is one Renew call, way=twocalls
// the calls the core makes without core.Renewer (the new row's
// CompareAndSwapUser, then the old row's CompareAndSwap to the retired
// marker). Each iteration renews the session the previous one created.
// Compare them with benchstat -col /way.
func BenchmarkRenew(b *testing.B, newStore func(b *testing.B) RenewStore) {
	ctx := context.Background()
	data := []byte("a session of ten values, encoded: about a hundred bytes of keys and values, give or take")
	marker := []byte("retired")
	for _, way := range []string{"renew", "twocalls"} {
		b.Run("way="+way, func(b *testing.B) {
			s := newStore(b)
			exp := time.Now().Add(time.Hour)
			key := Key("bench")
			v, err := s.CompareAndSwap(ctx, key, 0, data, exp)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				next := Key(fmt.Sprint("bench", i))
				if way == "renew" {
					v, err = s.Renew(ctx, core.Renewal{OldKey: key, OldVersion: v, Retired: marker, RetiredExpiry: exp,
						NewKey: next, Data: data, Expiry: exp, User: "alice", Until: exp})
				} else {
					var nv uint64
					if nv, err = s.CompareAndSwapUser(ctx, next, 0, data, exp, "alice", exp); err == nil {
						_, err = s.CompareAndSwap(ctx, key, v, marker, exp)
					}
					v = nv
				}
				if err != nil {
					b.Fatal(err)
				}
				key = next
			}
		})
	}
}
