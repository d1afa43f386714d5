package cookie

import (
	"math/rand/v2"
	"testing"
)

// TestUserRevocationMergeIsUnion checks merge against the plain list of
// RevokeUser calls it summarises: for random sequences of calls, in any
// order of their times, a session is revoked by the merged record exactly
// when some call revokes it (filed at or before the call's time and not
// the id that call keeps).
func TestUserRevocationMergeIsUnion(t *testing.T) {
	type call struct {
		at   int64
		keep string
	}
	ids := []string{"", "a", "b", "c"}
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20000 {
		var calls []call
		merged := noRevocation
		for range 1 + r.IntN(5) {
			c := call{at: int64(r.IntN(10)), keep: ids[r.IntN(len(ids))]}
			calls = append(calls, c)
			merged = merged.merge(c.at, c.keep)
		}
		// Encoding round-trips too.
		back, err := decodeUserRevocation(merged.encode())
		if err != nil || back != merged {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", merged, back, err)
		}
		for _, id := range []string{"a", "b", "c", "d"} {
			for since := int64(-1); since <= 10; since++ {
				want := false
				for _, c := range calls {
					if since <= c.at && id != c.keep {
						want = true
					}
				}
				if got := back.revokes(id, since); got != want {
					t.Fatalf("round %d: calls %+v merged to %+v: revokes(%q, %d) = %v, want %v", round, calls, merged, id, since, got, want)
				}
			}
		}
	}
}

func TestDecodeUserRevocationRejectsMalformed(t *testing.T) {
	good := userRevocation{at: 5, keepAt: 3, keep: "k"}.encode()
	for i, b := range [][]byte{nil, []byte("revoked"), good[:len(good)-2], append([]byte("x"), good[1:]...)} {
		if _, err := decodeUserRevocation(b); err == nil {
			t.Errorf("case %d: decodeUserRevocation(%q) succeeded", i, b)
		}
	}
}
