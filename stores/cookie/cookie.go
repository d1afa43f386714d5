package cookie

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/sessionkit/sessionkit/core"
)

// KeySize is the length of every key in Config.Keys: AES-256.
const KeySize = 32

// MaxTokenSize bounds the tokens Open considers: longer input is rejected
// before it is decoded. A browser keeps no cookie larger than 4096 bytes.
const MaxTokenSize = 4096

const (
	version   = 2
	nonceSize = 12
	tagSize   = 16
	expSize   = 8
	// header is version and nonce: what precedes the ciphertext.
	header = 1 + nonceSize
	// overhead is what sealing adds to a record, before base64 and the
	// session id: the header, the expiry, the id's length byte and the tag.
	overhead = header + expSize + 1 + tagSize
	// MaxIDSize is the longest session id Seal accepts.
	MaxIDSize = 64
)

// ErrKey is wrapped by the error New returns for a missing or badly sized key.
var ErrKey = errors.New("sessionkit: cookie: invalid key")

// Config configures a ClientStore.
type Config struct {
	// Keys are the AES-256 keys, each exactly KeySize (32) bytes of
	// crypto/rand output. Seal uses Keys[0]; Open accepts a token sealed
	// with any of them. At least one key is required. New copies them.
	Keys [][]byte

	// Revocations, when set, keeps revoked sessions until their deadline:
	// Revoke saves a marker under core.StoreKey(id) for the session id
	// sealed in every token of the session, and Open of a valid token
	// makes one Load to check for it, so a logout ends every token the
	// session ever had, not only the last. On a renew (login), Retire
	// saves instead a marker that also records the end of the core's
	// grace window (core.Config.RenewGrace), so that a request still
	// carrying a pre-login token gets no cookie that would replace the
	// logged-in one. It also keeps, for Manager.EndUserSessions, one
	// record per user whose sessions were ended (see RevokeUser). Any
	// core.Store works. Default: nil, no revocation
	// (the tokens of a destroyed or renewed session stay valid until their
	// deadline, and there is no such protection; see the package
	// documentation).
	Revocations core.Store

	// Now is the clock Open compares sealed deadlines with. Default:
	// time.Now.
	Now func() time.Time
}

// ClientStore seals sessions into tokens: the whole session travels to the
// client, encrypted and authenticated. It implements core.ClientStore (set
// it as core.Config.ClientStore, not as Config.Store) and is safe for
// concurrent use.
type ClientStore struct {
	aeads   []cipher.AEAD // one per key, built once; aeads[0] seals
	revoked core.Store
	now     func() time.Time
}

var (
	_ core.RetiringClientStore = (*ClientStore)(nil)
	_ core.TokenValidator      = (*ClientStore)(nil)
)

// New returns a ClientStore for cfg, or an error wrapping ErrKey when a key is
// missing or not KeySize bytes long.
func New(cfg Config) (*ClientStore, error) {
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("%w: at least one key is required", ErrKey)
	}
	s := &ClientStore{revoked: cfg.Revocations, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	for i, k := range cfg.Keys {
		if len(k) != KeySize {
			// The length only: never the key material.
			return nil, fmt.Errorf("%w: key %d is %d bytes, want %d", ErrKey, i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k) // copies the key schedule
		if err != nil {
			return nil, fmt.Errorf("sessionkit: cookie: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sessionkit: cookie: key %d: %w", i, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

var enc = base64.RawURLEncoding

// Seal implements core.ClientStore: it encrypts expiry, id and data with
// the first key, binding name as additional data, and returns the token.
func (s *ClientStore) Seal(_ context.Context, name, id string, data []byte, expiry time.Time) (string, error) {
	if len(id) > MaxIDSize {
		return "", fmt.Errorf("sessionkit: cookie: seal: session id of %d bytes, at most %d", len(id), MaxIDSize)
	}
	if len(data) > MaxTokenSize {
		return "", fmt.Errorf("sessionkit: cookie: seal: %w: %d bytes", core.ErrTooLarge, len(data))
	}
	rawLen := overhead + len(id) + len(data)
	encLen := enc.EncodedLen(rawLen)
	if encLen > MaxTokenSize {
		// Open would refuse the token: the session would be lost at the
		// next request, without an error.
		return "", fmt.Errorf("sessionkit: cookie: seal: %w: %d bytes of data make a token of %d bytes, Open reads at most %d", core.ErrTooLarge, len(data), encLen, MaxTokenSize)
	}
	rp := rawPool.Get().(*[]byte)
	defer rawPool.Put(rp)
	if cap(*rp) < rawLen {
		*rp = make([]byte, rawLen)
	}
	raw := (*rp)[:rawLen]
	raw[0] = version
	if _, err := rand.Read(raw[1:header]); err != nil {
		return "", fmt.Errorf("sessionkit: cookie: seal: %w", err)
	}
	pt := raw[header : header+expSize+1+len(id)+len(data)]
	binary.BigEndian.PutUint64(pt, uint64(unixNano(expiry)))
	pt[expSize] = byte(len(id))
	copy(pt[expSize+1:], id)
	copy(pt[expSize+1+len(id):], data)
	s.aeads[0].Seal(pt[:0], raw[1:header], pt, unsafe.Slice(unsafe.StringData(name), len(name)))
	// The only allocation: the token, encoded straight into its final
	// buffer, which is never written again and so may back the string.
	out := make([]byte, encLen)
	enc.Encode(out, raw)
	return unsafe.String(&out[0], encLen), nil
}

// rawPool holds the scratch buffers Seal encrypts in, before encoding.
var rawPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Open implements core.ClientStore. It returns ok == false, with no error,
// for a token that is malformed, tampered with, sealed for another name or
// with a key not in Config.Keys, expired, revoked or retired. The only
// error is a failing revocation list.
func (s *ClientStore) Open(ctx context.Context, name, token string) (string, []byte, time.Time, bool, error) {
	id, data, exp, ok := s.open(name, token)
	if !ok {
		return "", nil, time.Time{}, false, nil
	}
	if s.revoked != nil && id != "" {
		_, found, err := s.revoked.Load(ctx, core.StoreKey(id))
		if err != nil {
			return "", nil, time.Time{}, false, fmt.Errorf("sessionkit: cookie: revocation list: %w", err)
		}
		if found {
			return "", nil, time.Time{}, false, nil
		}
	}
	return id, data, exp, true, nil
}

// open authenticates and decrypts token, sealed under name, and returns
// the id, data and expiry sealed in it; ok is false when the token is
// malformed, does not authenticate under any key, or has expired.
func (s *ClientStore) open(name, token string) (id string, data []byte, exp time.Time, ok bool) {
	if len(token) > MaxTokenSize || len(token) < enc.EncodedLen(overhead) {
		return "", nil, time.Time{}, false
	}
	dlen := enc.DecodedLen(len(token))
	size := dlen
	if len(s.aeads) > 1 {
		size += dlen // scratch space: a failed in-place Open clobbers its input
	}
	raw := make([]byte, size)
	n, err := enc.Decode(raw[:dlen], unsafe.Slice(unsafe.StringData(token), len(token)))
	if err != nil || n < overhead || raw[0] != version {
		return "", nil, time.Time{}, false
	}
	// Reject non-canonical encodings, so one sealed value has exactly one
	// token.
	if enc.EncodedLen(n) != len(token) || !canonicalTail(token, n) {
		return "", nil, time.Time{}, false
	}
	nonce, ct := raw[1:header], raw[header:n]
	ad := unsafe.Slice(unsafe.StringData(name), len(name))
	var pt []byte
	for i, aead := range s.aeads {
		buf := ct
		if i < len(s.aeads)-1 {
			buf = raw[dlen : dlen+len(ct)]
			copy(buf, ct)
		}
		if p, err := aead.Open(buf[:0], nonce, buf, ad); err == nil {
			pt = p
			break
		}
	}
	if pt == nil {
		return "", nil, time.Time{}, false
	}
	exp = time.Unix(0, int64(binary.BigEndian.Uint64(pt)))
	idLen := int(pt[expSize])
	if !s.now().Before(exp) || len(pt) < expSize+1+idLen {
		return "", nil, time.Time{}, false
	}
	return string(pt[expSize+1 : expSize+1+idLen]), pt[expSize+1+idLen:], exp, true
}

// Revoke implements core.ClientStore. With Config.Revocations it records
// the session id as revoked until expiry, which ends every token sealed
// with it; without, it does nothing and the tokens stay valid until their
// deadline.
func (s *ClientStore) Revoke(ctx context.Context, _ string, id string, expiry time.Time) error {
	if s.revoked == nil || id == "" {
		return nil
	}
	if err := s.revoked.Save(ctx, core.StoreKey(id), revokedMarker, expiry); err != nil {
		return fmt.Errorf("sessionkit: cookie: revoke: %w", err)
	}
	return nil
}

// Retire implements core.RetiringClientStore: the core calls it instead
// of Revoke when a renew (login) ends a session. With Config.Revocations
// it stores, in the one Save that Revoke would make, a marker that ends
// every token sealed with id until expiry, as Revoke's does, and that
// also carries graceUntil, for Retired. Without, it does nothing (the old
// tokens stay valid until their deadline).
func (s *ClientStore) Retire(ctx context.Context, _ string, id string, graceUntil, expiry time.Time) error {
	if s.revoked == nil || id == "" {
		return nil
	}
	marker := binary.BigEndian.AppendUint64([]byte(retiredPrefix), uint64(unixNano(graceUntil)))
	if err := s.revoked.Save(ctx, core.StoreKey(id), marker, expiry); err != nil {
		return fmt.Errorf("sessionkit: cookie: retire: %w", err)
	}
	return nil
}

// Retired implements core.RetiringClientStore: for a token that
// authenticates under name and has not expired, and whose session id
// Retire retired, it returns the end of the grace window Retire recorded.
// Otherwise, and always without Config.Revocations, it returns the zero
// time. It makes one revocation-list Load, and none for a token that does
// not authenticate.
func (s *ClientStore) Retired(ctx context.Context, name, token string) (time.Time, error) {
	if s.revoked == nil {
		return time.Time{}, nil
	}
	id, _, _, ok := s.open(name, token)
	if !ok || id == "" {
		return time.Time{}, nil
	}
	rec, found, err := s.revoked.Load(ctx, core.StoreKey(id))
	if err != nil {
		return time.Time{}, fmt.Errorf("sessionkit: cookie: revocation list: %w", err)
	}
	if !found || len(rec.Data) != len(retiredPrefix)+8 || string(rec.Data[:len(retiredPrefix)]) != retiredPrefix {
		return time.Time{}, nil
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(rec.Data[len(retiredPrefix):]))), nil
}

// Valid implements core.TokenValidator: it reports whether token has the
// shape of a sealed token (canonical unpadded base64url of this version,
// within the size bounds), without decrypting it. core.New uses it when
// Config.Tokens is nil, so that among several cookies of the same name the
// Manager picks the one that can be a session.
func (s *ClientStore) Valid(token string) bool {
	if len(token) > MaxTokenSize || len(token) < enc.EncodedLen(overhead) || token[0] != 'A' {
		return false // 'A': the first six bits of the version byte (2) are zero
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	n := len(token) / 4 * 3
	switch len(token) % 4 {
	case 1:
		return false
	case 2:
		n++
	case 3:
		n += 2
	}
	return canonicalTail(token, n)
}

// revokedMarker is the record a revocation stores; only its presence matters.
var revokedMarker = []byte("revoked")

// retiredPrefix begins the record Retire stores; the end of the grace
// window follows, in big-endian Unix nanoseconds.
const retiredPrefix = "retired:"

// canonicalTail reports whether the last character of an unpadded base64
// token of n decoded bytes has its unused low bits clear.
func canonicalTail(token string, n int) bool {
	var mask byte
	switch n % 3 {
	case 1:
		mask = 0x0f // 2 characters carry 12 bits for 8
	case 2:
		mask = 0x03 // 3 characters carry 18 bits for 16
	default:
		return true
	}
	return b64val(token[len(token)-1])&mask == 0
}

func b64val(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	}
	return 63 // '_'; Decode has rejected anything else
}

// unixNano returns t in Unix nanoseconds, clamped to the int64 range (the
// zero time and far-future deadlines do not overflow into the past).
func unixNano(t time.Time) int64 {
	const maxSec = math.MaxInt64/int64(time.Second) - 1
	const minSec = math.MinInt64/int64(time.Second) + 1
	switch sec := t.Unix(); {
	case sec > maxSec:
		return math.MaxInt64
	case sec < minSec:
		return math.MinInt64
	}
	return t.UnixNano()
}
