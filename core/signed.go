package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strings"
	"sync"
)

// MinSigningKeySize is the shortest key Config.SigningKeys accepts: the
// output size of SHA-256.
const MinSigningKeySize = 32

// sigLen is the length of the base64url HMAC-SHA256 appended to a signed token.
const sigLen = 43 // base64.RawURLEncoding.EncodedLen(sha256.Size)

// badToken stands for a token that was presented but whose signature did
// not verify. It is malformed for every TokenGenerator (a NUL byte is never
// part of a URL-safe token), so it loads nothing and costs no store call.
const badToken = "\x00"

// signer signs and verifies token values with HMAC-SHA256 under a list of
// keys: the first signs, any verifies. Each key has a pool of MACs so that
// the hot path does not rebuild the HMAC state.
type signer struct {
	name  string // the cookie or header name, bound into every MAC
	pools []*sync.Pool
}

func newSigner(name string, keys [][]byte) *signer {
	sg := &signer{name: name}
	for _, k := range keys {
		k := append([]byte(nil), k...)
		sg.pools = append(sg.pools, &sync.Pool{New: func() any { return hmac.New(sha256.New, k) }})
	}
	return sg
}

// mac computes the HMAC of name "=" token under key i into sum.
func (sg *signer) mac(i int, token string, sum *[sha256.Size]byte) {
	h := sg.pools[i].Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(sg.name))
	h.Write([]byte{'='})
	h.Write([]byte(token))
	h.Sum(sum[:0])
	sg.pools[i].Put(h)
}

// sign returns token "." base64url(HMAC-SHA256(key0, name "=" token)).
func (sg *signer) sign(token string) string {
	var sum [sha256.Size]byte
	sg.mac(0, token, &sum)
	b := make([]byte, 0, len(token)+1+sigLen)
	b = append(b, token...)
	b = append(b, '.')
	b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	return string(b)
}

// verify returns the token inside a signed value and whether its signature
// verifies under any key, compared in constant time.
func (sg *signer) verify(value string) (string, bool) {
	i := strings.LastIndexByte(value, '.')
	if i < 0 || len(value)-i-1 != sigLen {
		return "", false
	}
	token := value[:i]
	var got [sha256.Size + 1]byte // DecodedLen(43) is 32; one spare byte
	n, err := base64.RawURLEncoding.Decode(got[:], []byte(value[i+1:]))
	if err != nil || n != sha256.Size {
		return "", false
	}
	// Only the canonical encoding: the last character's 2 low bits are 0.
	if b64Value(value[len(value)-1])&3 != 0 {
		return "", false
	}
	var want [sha256.Size]byte
	ok := false
	for k := range sg.pools {
		sg.mac(k, token, &want)
		if hmac.Equal(got[:n], want[:]) {
			ok = true // keep checking the other keys: no early exit by key
		}
	}
	return token, ok
}

// unsign returns the token carried by a presented value: the value itself
// when signing is off, the verified token when it is on, and badToken when
// the signature does not verify.
func (m *Manager) unsign(value string) string {
	if m.cfg.signer == nil || value == "" {
		return value
	}
	if tok, ok := m.cfg.signer.verify(value); ok {
		return tok
	}
	return badToken
}

// signValue returns the value that carries token to the client.
func (m *Manager) signValue(token string) string {
	if m.cfg.signer == nil || token == "" {
		return token
	}
	return m.cfg.signer.sign(token)
}
