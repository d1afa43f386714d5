package cookie_test

import (
	"bytes"
	"testing"
	"time"
)

// FuzzCookieOpen checks that Open never panics on any token, that a sealed
// record opens to exactly what was sealed, and that no mutation of a sealed
// token (one byte changed, truncated, extended, another name) opens.
func FuzzCookieOpen(f *testing.F) {
	st := testStore(f, fixedKey(1), fixedKey(2))
	old := testStore(f, fixedKey(2)) // seals with the second key of st
	f.Add([]byte("a record"), "", uint16(0), byte(1))
	f.Add([]byte{}, "junk", uint16(5), byte(0x80))
	f.Add(bytes.Repeat([]byte{0xff}, 300), "AQ", uint16(40), byte('A'^'B'))
	if tok, err := old.Seal(ctx, "session", "sid", []byte("sealed with the old key"), farFuture); err == nil {
		f.Add([]byte("x"), tok, uint16(len(tok)-1), byte(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, token string, pos uint16, x byte) {
		// Arbitrary input: no panic, no error; anything that opens must
		// open the same way twice and be sealed for this name only.
		_, got, exp, ok, err := st.Open(ctx, "session", token)
		if err != nil {
			t.Fatalf("Open(%q) error %v; only a revocation list may fail", token, err)
		}
		if ok {
			_, again, exp2, ok2, _ := st.Open(ctx, "session", token)
			if !ok2 || !bytes.Equal(got, again) || !exp.Equal(exp2) {
				t.Fatalf("Open(%q) is not deterministic", token)
			}
			if _, _, _, ok, _ := st.Open(ctx, "other", token); ok {
				t.Fatalf("Open(other, %q) accepted a token sealed for session", token)
			}
			checkMutations(t, st, token, pos, x)
		}

		if len(data) > 2048 {
			data = data[:2048]
		}
		exp = farFuture
		tok, err := st.Seal(ctx, "session", "sid", data, exp)
		if err != nil {
			t.Fatalf("Seal(%d bytes) error %v", len(data), err)
		}
		_, got, gotExp, ok, err := st.Open(ctx, "session", tok)
		if err != nil || !ok || !bytes.Equal(got, data) || !gotExp.Equal(exp) {
			t.Fatalf("Open(Seal(%q)) = %q, %v, %v, %v; want the record back", data, got, gotExp, ok, err)
		}
		if _, _, _, ok, _ := st.Open(ctx, "Session", tok); ok {
			t.Fatal("a token sealed for session opened as Session")
		}
		checkMutations(t, st, tok, pos, x)
	})
}

// checkMutations requires that tok, changed at pos by x, truncated or
// extended, no longer opens.
func checkMutations(t *testing.T, st interface {
	Open(ctx0 ctxT, name, token string) (string, []byte, time.Time, bool, error)
}, tok string, pos uint16, x byte) {
	t.Helper()
	var mutated []string
	if x != 0 && len(tok) > 0 {
		b := []byte(tok)
		b[int(pos)%len(b)] ^= x
		mutated = append(mutated, string(b))
	}
	mutated = append(mutated, tok[:int(pos)%len(tok)], tok+string(rune('A'+x%26)))
	for _, m := range mutated {
		if m == tok {
			continue
		}
		if _, _, _, ok, err := st.Open(ctx, "session", m); ok || err != nil {
			t.Fatalf("Open(mutated %q from %q) = ok %v, err %v; want rejected", m, tok, ok, err)
		}
	}
}
