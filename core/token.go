package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// TokenValidator recognises well-formed tokens without any store call.
// A ClientStore implements it so that the Manager can tell its sealed
// tokens from anything else (among several cookies of the same name, say).
type TokenValidator interface {
	// Valid reports whether token has the shape of a token this issuer
	// produces. Anything it rejects is "no session".
	Valid(token string) bool
}

// TokenGenerator issues session tokens and recognises well-formed ones.
// Implementations must be safe for concurrent use.
type TokenGenerator interface {
	// New returns a fresh, unguessable token. The token travels in a cookie
	// or a header, so it must be URL-safe and free of spaces, commas,
	// semicolons and quotes.
	New() (string, error)
	// Valid reports whether token has the shape of a token New issues.
	// It must accept no other input: anything it rejects is treated as
	// "no session" without a store call.
	Valid(token string) bool
}

// sealedTokens is the TokenGenerator of a ClientStore that implements
// TokenValidator: its Valid recognises sealed tokens; New is never used to
// send a token, since the Manager seals every client-side session.
type sealedTokens struct {
	RandomTokens
	TokenValidator
}

// Valid implements TokenGenerator with the ClientStore's validator.
func (t sealedTokens) Valid(token string) bool { return t.TokenValidator.Valid(token) }

// RandomTokens is the default TokenGenerator: 256 bits from crypto/rand,
// encoded as 43 characters of unpadded base64url.
type RandomTokens struct{}

const randomTokenLen = 43 // base64.RawURLEncoding.EncodedLen(32)

// New implements TokenGenerator.
func (RandomTokens) New() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sessionkit: token: %w", err)
	}
	var out [randomTokenLen]byte
	base64.RawURLEncoding.Encode(out[:], b[:])
	return string(out[:]), nil // the only allocation
}

// Valid implements TokenGenerator. It accepts exactly the canonical
// unpadded base64url encoding of 32 bytes and allocates nothing.
func (RandomTokens) Valid(token string) bool {
	if len(token) != randomTokenLen {
		return false
	}
	// One table lookup per character, without a branch: a token's
	// digits are random, so a test of each one's range would often be
	// mispredicted.
	var bad byte
	for i := 0; i < len(token); i++ {
		bad |= b64Values[token[i]]
	}
	// 43 characters carry 258 bits: the last character's two low bits
	// must be zero in the canonical encoding of 256 bits.
	return bad&b64Bad == 0 && b64Values[token[randomTokenLen-1]]&3 == 0
}

// b64Values maps each byte to its value as a base64url digit (0-63), or
// to b64Bad.
var b64Values = func() (t [256]byte) {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for c := range t {
		t[c] = b64Bad
	}
	for i := 0; i < len(digits); i++ {
		t[digits[i]] = byte(i)
	}
	return t
}()

// b64Bad marks a byte that is no base64url digit in b64Values: its high
// bit is set in no digit's value.
const b64Bad = 0x80

// b64Value returns the value of the base64url digit c, or -1.
func b64Value(c byte) int {
	if v := b64Values[c]; v != b64Bad {
		return int(v)
	}
	return -1
}

// StoreKey returns the key under which the session with the given token is
// stored: the lowercase hex SHA-256 of the token. A store dump therefore holds
// no usable tokens, and no token can become a path or a query.
func StoreKey(token string) string {
	// A token of the default generator (43 bytes) fits in in, on the
	// stack; []byte(token) alone gets only 32 bytes there and allocates.
	var in [64]byte
	b := in[:0]
	if len(token) <= len(in) {
		b = append(b, token...)
	} else {
		b = []byte(token)
	}
	sum := sha256.Sum256(b)
	var buf [2 * sha256.Size]byte
	for i, v := range sum {
		buf[2*i], buf[2*i+1] = hexPairs[v][0], hexPairs[v][1] // a pair a byte, as hex.Encode writes
	}
	return string(buf[:]) // the only allocation
}

// hexPairs holds the two lowercase hexadecimal digits of every byte value.
var hexPairs = func() (t [256][2]byte) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = [2]byte{digits[i>>4], digits[i&0xf]}
	}
	return t
}()
