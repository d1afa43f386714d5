package core_test

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
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
	for i := 0; i < len(digits); i++ {
		if !g.Valid(withByte(good, 20, digits[i])) {
			t.Errorf("Valid rejects the digit %q", digits[i])
		}
	}
	bad = append(bad, foreignBytes(good, digits)...)
	for _, b := range bad {
		if g.Valid(b) {
			t.Errorf("Valid(%q) = true, want false", b)
		}
	}
}

// withByte returns s with its byte at i replaced by c.
func withByte(s string, i int, c byte) string {
	return s[:i] + string([]byte{c}) + s[i+1:]
}

// foreignBytes returns s with each byte that is not in digits put in
// place of its first, its middle and its last character.
func foreignBytes(s, digits string) []string {
	var out []string
	for c := 0; c < 256; c++ {
		if strings.IndexByte(digits, byte(c)) < 0 {
			for _, i := range []int{0, len(s) / 2, len(s) - 1} {
				out = append(out, withByte(s, i, byte(c)))
			}
		}
	}
	return out
}

// benchValid runs valid over inputs of random digits, as keys and tokens
// are: a check that branches on each digit's range mispredicts often.
func benchValid(b *testing.B, inputs []string, valid func(string) bool) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if !valid(inputs[i%len(inputs)]) {
			b.Fatalf("rejected %q", inputs[i%len(inputs)])
		}
		i++
	}
}

func BenchmarkRandomTokensValid(b *testing.B) {
	var g core.RandomTokens
	toks := make([]string, 1024)
	for i := range toks {
		toks[i], _ = g.New()
	}
	benchValid(b, toks, g.Valid)
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
	bad = append(bad, foreignBytes(k, "0123456789abcdef")...)
	for _, bad := range bad {
		if core.ValidKey(bad) {
			t.Errorf("ValidKey(%q) = true", bad)
		}
	}
}

// TestStoreKeyKnownAnswers: StoreKey is the lowercase hex SHA-256 of the
// token, as encoding/hex writes it, for tokens short enough for its stack
// buffer and longer ones, and for 2 000 random tokens of 0-99 bytes (so
// that every byte value turns up in the sums, each written from its pair
// of digits); a default token's key costs one allocation (the string
// returned).
func TestStoreKeyKnownAnswers(t *testing.T) {
	for _, n := range []int{0, 1, 32, 43, 63, 64, 65, 200} {
		tok := strings.Repeat("x", n)
		sum := sha256.Sum256([]byte(tok))
		if got, want := core.StoreKey(tok), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("StoreKey of a %d-byte token = %s, want %s", n, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 100 {
		for range 20 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			sum := sha256.Sum256(b)
			if got, want := core.StoreKey(string(b)), hex.EncodeToString(sum[:]); got != want {
				t.Fatalf("StoreKey of % x = %s, want %s", b, got, want)
			}
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

func BenchmarkValidKey(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = core.StoreKey(strconv.Itoa(i))
	}
	benchValid(b, keys, core.ValidKey)
}

func BenchmarkRandomTokensNew(b *testing.B) {
	var g core.RandomTokens
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.New(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreKey hashes and hex-encodes a default token: what every
// request that presents one pays before its load.
func BenchmarkStoreKey(b *testing.B) {
	tok, err := core.RandomTokens{}.New()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = core.StoreKey(tok)
	}
}
