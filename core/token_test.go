package core_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/core/uuidtoken"
)

func TestRandomTokens(t *testing.T) {
	var g core.RandomTokens
	seen := map[string]bool{}
	for range 1000 {
		tok, err := g.New()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 43 || !g.Valid(tok) {
			t.Fatalf("New() = %q (len %d), not valid", tok, len(tok))
		}
		if seen[tok] {
			t.Fatalf("New() repeated %q", tok)
		}
		seen[tok] = true
	}
	good, _ := g.New()
	bad := []string{
		"", good[:42], good + "A", strings.Repeat("A", 10000),
		good[:20] + "\x00" + good[21:], good[:20] + "+" + good[21:], good[:20] + "/" + good[21:],
		good[:20] + "é" + good[22:], good[:42] + "B", // last character with low bits set is not canonical
		"../../../../etc/passwd" + good[22:],
	}
	// Every byte that is no base64url digit, at the start, in the middle
	// and at the end; every digit is accepted in the middle.
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for c := 0; c < 256; c++ {
		at := good[:20] + string([]byte{byte(c)}) + good[21:]
		if strings.IndexByte(digits, byte(c)) >= 0 {
			if !g.Valid(at) {
				t.Errorf("Valid rejects the digit %q", byte(c))
			}
			continue
		}
		for _, i := range []int{0, 20, 42} {
			bad = append(bad, good[:i]+string([]byte{byte(c)})+good[i+1:])
		}
	}
	for _, b := range bad {
		if g.Valid(b) {
			t.Errorf("Valid(%q) = true, want false", b)
		}
	}
}

// BenchmarkRandomTokensValid checks tokens of random digits, as tokens
// are: a check that branches on each digit's range mispredicts often.
func BenchmarkRandomTokensValid(b *testing.B) {
	var g core.RandomTokens
	toks := make([]string, 1024)
	for i := range toks {
		toks[i], _ = g.New()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if !g.Valid(toks[i%len(toks)]) {
			b.Fatal("Valid rejected a token of New")
		}
		i++
	}
}

func TestStoreKey(t *testing.T) {
	k := core.StoreKey("token")
	if !core.ValidKey(k) {
		t.Fatalf("StoreKey = %q, not a valid key", k)
	}
	if k == core.StoreKey("token2") || k != core.StoreKey("token") {
		t.Fatal("StoreKey is not a function of the token")
	}
	if strings.Contains(k, "token") {
		t.Fatal("StoreKey leaks the token")
	}
	bad := []string{"", k[:63], k + "0", strings.ToUpper(k), "../" + k[3:]}
	// Every byte that is not a lowercase hex digit, at the start, in the
	// middle and at the end, including the neighbours of '0'-'9' and 'a'-'f'.
	for c := 0; c < 256; c++ {
		if ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') {
			continue
		}
		for _, at := range []int{0, 31, 63} {
			bad = append(bad, k[:at]+string([]byte{byte(c)})+k[at+1:])
		}
	}
	for _, bad := range bad {
		if core.ValidKey(bad) {
			t.Errorf("ValidKey(%q) = true", bad)
		}
	}
}

// TestStoreKeyKnownAnswers: StoreKey is the lowercase hex SHA-256 of the
// token for tokens short enough for its stack buffer and longer ones, and
// a default token's key costs one allocation (the string returned).
func TestStoreKeyKnownAnswers(t *testing.T) {
	for _, n := range []int{0, 1, 32, 43, 63, 64, 65, 200} {
		tok := strings.Repeat("x", n)
		sum := sha256.Sum256([]byte(tok))
		if got, want := core.StoreKey(tok), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("StoreKey of a %d-byte token = %s, want %s", n, got, want)
		}
	}
	tok, err := core.RandomTokens{}.New()
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = core.StoreKey(tok) }); n != 1 {
		t.Errorf("StoreKey of a %d-byte token: %v allocations, want 1", len(tok), n)
	}
}

func TestUUIDTokens(t *testing.T) {
	var g uuidtoken.Generator
	tok, err := g.New()
	if err != nil || !g.Valid(tok) || len(tok) != 36 {
		t.Fatalf("New() = %q, %v; want a valid UUID", tok, err)
	}
	for _, bad := range []string{"", strings.ToUpper(tok), tok[:35], "f47ac10b-58cc-1372-a567-0e02b2c3d479", "f47ac10b-58cc-4372-c567-0e02b2c3d479", "f47ac10b_58cc-4372-a567-0e02b2c3d479"} {
		if g.Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}

// BenchmarkValidKey checks keys of random digits, as store keys are: a
// check that branches on each digit mispredicts about every other one.
func BenchmarkValidKey(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = core.StoreKey(strconv.Itoa(i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if !core.ValidKey(keys[i%len(keys)]) {
			b.Fatal("ValidKey rejected a store key")
		}
		i++
	}
}
