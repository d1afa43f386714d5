// Package redisstore is a sessionkit store on Redis, through go-redis v9.
//
// It takes a goredis.UniversalClient, so the same store works on a single
// node, behind Sentinel (a failover client) and on Redis Cluster. Each
// session is one Redis string under KeyPrefix + key: a 16-byte header (the
// record's version and its exact expiry, both big-endian) followed by the
// encoded session, with a millisecond TTL (PX) set from the expiry so that
// Redis drops the record by itself. A record filed under a user (see
// CompareAndSwapUser) has the top bit of its expiry field set and, after
// the data, the filing's until (8 bytes, big-endian Unix milliseconds) and
// the user's 64-character hash. Load (GET), Save,
// Delete, Touch and CompareAndSwap are each one network round trip; Save,
// Touch and CompareAndSwap run small Lua scripts (EVALSHA, falling back to
// EVAL once per node), which touch one key and are therefore valid in
// Cluster mode.
//
// The store implements core.Store, core.Toucher, core.CompareAndSwapper,
// core.Iterator, core.UserIndexer (one sorted set per user, see
// CompareAndSwapUser and UserKeys for the index and its costs) and
// core.Renewer (one script moves a session to a new key, where all keys
// share a slot: see Renew). Expired
// records are removed by Redis itself, so there is no DeleteExpired.
//
// # Timeouts
//
// go-redis honours a context's deadline on the socket only when
// Options.ContextTimeoutEnabled is true; otherwise a request waits up to
// ReadTimeout (3 s by default) even when ctx expires earlier. Recommended
// client options for sessions: ContextTimeoutEnabled: true, DialTimeout and
// ReadTimeout/WriteTimeout of about one second, and a small MaxRetries, so
// that an unreachable server fails a request promptly instead of hanging it.
//
// Expiry is sent as a relative TTL (PX) computed from the caller's clock, so
// a clock difference between the application and Redis does not shift it.
// Because it is relative, a command that reaches Redis late leaves the
// record there a little past its expiry; the exact expiry in the header is
// what decides, by the caller's clock: Load and every script treat a record
// whose expiry has passed as gone, so no Touch, CompareAndSwap or Renew
// revives it.
package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
)

// DefaultKeyPrefix is the key prefix used when Config.KeyPrefix is empty.
const DefaultKeyPrefix = "sessionkit:"

// Layout of the header in front of the data: version, then expiry in Unix
// nanoseconds. The top bit of the expiry field (never set by a real expiry,
// which is positive) marks a record filed under a user, whose filing
// (until, then the user's hash) follows the data.
const (
	versionLen = 8
	headerLen  = 16
	filedBit   = 1 << 63
	ownerLen   = 64
	tailLen    = 8 + ownerLen
)

// liveLua tells a live record from one whose expiry has passed. u32 reads
// the 4-byte big-endian number at byte i of s. live reports whether head,
// a record's 16-byte header, expires after the time at byte i of s (8
// bytes, big-endian Unix nanoseconds: the caller's now), comparing
// exactly (a Lua number holds 53 bits, a time in nanoseconds 61) and as
// Load does: a record whose expiry is at or before now is gone, even while
// Redis still holds it (its TTL is relative, so a command that reached
// Redis late keeps it a little past its expiry).
const liveLua = `
local function u32(s, i)
	local a, b, c, d = string.byte(s, i, i + 3)
	return ((a * 256 + b) * 256 + c) * 256 + d
end
local function live(head, s, i)
	local e, n = u32(head, 9) % 2147483648, u32(s, i)
	if e ~= n then return e > n end
	return u32(head, 13) > u32(s, i + 4)
end
`

// recordLua is the Lua the record scripts share, with liveLua. num reads
// the 8-byte big-endian number at byte i of s. userSet names the user set of the
// record k (prefix + 64-character key) whose filing tail is tail. rescore
// keeps a filed record's member in its user set at the score min(expiry,
// until) (Unix ms) after a rewrite, and the set's TTL past that score; ttl
// is the record's new TTL in ms. A member no longer in the set stays out
// (XX).
const recordLua = liveLua + `
local function num(s, i)
	local n = 0
	for j = i, i + 7 do n = n * 256 + string.byte(s, j) end
	return n
end
local function userSet(k, tail)
	return string.sub(k, 1, #k - 64) .. 'user:' .. string.sub(tail, 9)
end
local function rescore(k, tail, expms, ttl)
	local set = userSet(k, tail)
	local untilms = num(tail, 1)
	redis.call('ZADD', set, 'XX', math.min(expms, untilms), string.sub(k, -64))
	local left = ttl - math.max(0, expms - untilms)
	if left > 0 and redis.call('PTTL', set) < left then
		redis.call('PEXPIRE', set, left)
	end
end
`

// Config configures a Store.
type Config struct {
	// KeyPrefix is put in front of every session key and every user set,
	// to keep sessions apart from other data on the same server. Default
	// "sessionkit:". To keep all sessions of a Cluster in one slot, put a
	// hash tag in it ("{sessions}:"); by default keys spread over all
	// masters. With a hash tag, CompareAndSwapUser maintains the user sets
	// in the same script as the record, as on a single node, and Renew
	// moves a session in one script (without one, Renew declines and the
	// core renews in separate steps).
	KeyPrefix string
}

// Store keeps sessions in Redis. It is safe for concurrent use.
type Store struct {
	client  goredis.UniversalClient
	prefix  string
	pattern string
	// userPrefix is put in front of a user's hash to name the user's set.
	userPrefix string
	// oneSlot is true when every key of the store lives in one slot of
	// one node (a single node, or a hash tag in the prefix), so that a
	// script may update a record and user sets together.
	oneSlot bool
}

// Compile-time checks of the capabilities the store offers.
var (
	_ core.Store             = (*Store)(nil)
	_ core.Toucher           = (*Store)(nil)
	_ core.CompareAndSwapper = (*Store)(nil)
	_ core.Iterator          = (*Store)(nil)
	_ core.UserIndexer       = (*Store)(nil)
	_ core.Renewer           = (*Store)(nil)
)

// New returns a Store that keeps sessions in client, which may be a
// *goredis.Client, a Sentinel failover client, a *goredis.ClusterClient or
// a *goredis.Ring. The store does not close the client.
func New(client goredis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("sessionkit: redis: new: nil client")
	}
	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	oneSlot := false
	switch client.(type) {
	case *goredis.Client:
		oneSlot = true
	case *goredis.ClusterClient, *goredis.Ring:
		oneSlot = hasHashTag(prefix)
	}
	return &Store{
		client:     client,
		prefix:     prefix,
		pattern:    globEscape(prefix) + "*",
		userPrefix: prefix + "user:",
		oneSlot:    oneSlot,
	}, nil
}

// hasHashTag reports whether every key that starts with prefix has the
// same Redis Cluster hash tag, taken from prefix: a "{" followed later by
// a "}" with at least one byte between them.
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	return i >= 0 && strings.IndexByte(prefix[i+1:], '}') > 0
}

// touchScript sets the expiry of a live record, keeping data, version and
// filing (the top bit of the expiry field). Its argument is the new expiry
// header (8 bytes, big-endian Unix nanoseconds), the TTL in milliseconds
// (8 bytes, big-endian; 0 deletes), a flags byte (2 when the user sets
// live in the record's slot, so that a filed record's member follows its
// expiry, see rescore, or leaves with it) and now (8 bytes, Unix
// nanoseconds). It returns 1 when the record was live (see live), else 0
// and changes nothing.
var touchScript = newScript(recordLua + `
local k = KEYS[1]
local a = ARGV[1]
local head = redis.call('GETRANGE', k, 0, 15)
if #head < 16 or not live(head, a, 18) then return 0 end
local filed = string.byte(head, 9) >= 128
local ttl = num(a, 9)
local tail = ''
if filed and string.byte(a, 17) >= 2 then
	tail = redis.call('GETRANGE', k, -72, -1)
end
if ttl <= 0 then
	redis.call('DEL', k)
	if tail ~= '' then redis.call('ZREM', userSet(k, tail), string.sub(k, -64)) end
	return 1
end
local e = string.sub(a, 1, 8)
if filed then
	e = string.char(string.byte(e, 1) + 128) .. string.sub(e, 2)
end
redis.call('SETRANGE', k, 8, e)
redis.call('PEXPIRE', k, ttl)
if tail ~= '' then rescore(k, tail, math.floor(num(a, 1) / 1000000), ttl) end
return 1
`)

// deleteScript deletes a record and takes its key out of its user's set
// (which lives in the record's slot). A value of another kind than a
// string under the key (which Load reports as corrupt, so that the core
// deletes it) is deleted too: GETRANGE fails on it, and pcall keeps that
// from failing the script.
var deleteScript = newScript(`
local k = KEYS[1]
local f = redis.pcall('GETRANGE', k, 8, 8)
if type(f) == 'string' and f ~= '' and string.byte(f) >= 128 then
	redis.call('ZREM', string.sub(k, 1, #k - 64) .. 'user:' .. redis.call('GETRANGE', k, -64, -1), string.sub(k, -64))
end
redis.call('DEL', k)
return 1
`)

// casScript writes a record (Save and CompareAndSwap) and keeps the filing
// of the live record it replaces. Its one argument packs everything, so
// that the call allocates no argument of its own: the expected version (8
// bytes; all zero for "no live record", a version no record has), the TTL
// in milliseconds (8 bytes, big-endian; 0 deletes the record), a flags
// byte, now (8 bytes, Unix nanoseconds), then the new value (unfiled).
// Flag 1: write whatever the version (Save). Flag 2: the user sets live in
// the record's slot, under the record key's prefix + "user:", so a deleted
// record's user set loses the key at once and a rewritten one's member
// follows its expiry (see rescore). A record whose expiry has passed (see
// live) counts as none: a version does not match it, and a write replaces
// it without its filing (its key leaves its user's set where the set
// shares its slot). It returns 1 when it wrote, 0 on a conflict (changing
// nothing).
var casScript = newScript(recordLua + `
local a = ARGV[1]
local flags = string.byte(a, 17)
local k = KEYS[1]
local head = redis.call('GETRANGE', k, 0, 15)
local gone = head == '' or (#head == 16 and not live(head, a, 18))
if flags % 2 == 0 then
	local want = string.sub(a, 1, 8)
	if gone then
		if want ~= string.rep('\0', 8) then return 0 end
	elseif #head < 16 or string.sub(head, 1, 8) ~= want then
		return 0
	end
end
local tail = ''
if #head == 16 and string.byte(head, 9) >= 128 then
	tail = redis.call('GETRANGE', k, -72, -1)
	if gone then
		if flags >= 2 then redis.call('ZREM', userSet(k, tail), string.sub(k, -64)) end
		tail = ''
	end
end
local ttl = num(a, 9)
if ttl <= 0 then
	redis.call('DEL', k)
	if tail ~= '' and flags >= 2 then
		redis.call('ZREM', userSet(k, tail), string.sub(k, -64))
	end
	return 1
end
redis.call('SET', k, string.sub(a, 26), 'PX', ttl)
if tail ~= '' then
	redis.call('SETRANGE', k, 8, string.char(string.byte(a, 34) + 128))
	redis.call('APPEND', k, tail)
	if flags >= 2 then rescore(k, tail, math.floor(num(a, 34) / 1000000), ttl) end
end
return 1
`)

// Load returns the record stored under key in one round trip (GET). The
// expiry is the one saved, exactly; a record whose expiry has passed but
// that Redis has not dropped yet is reported as not found.
func (s *Store) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if !core.ValidKey(key) {
		return core.Record{}, false, fmt.Errorf("sessionkit: redis: load: %w", core.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return core.Record{}, false, fmt.Errorf("sessionkit: redis: load: %w", err)
	}
	c := s.newCall(key)
	c.args[0], c.args[1] = "get", &c.key
	cmd := goredis.NewStringCmd(ctx, c.args[:2]...)
	err := s.client.Process(ctx, cmd)
	c.release()
	if errors.Is(err, goredis.Nil) {
		return core.Record{}, false, nil
	}
	if err != nil {
		if goredis.HasErrorPrefix(err, "WRONGTYPE") {
			// A hash, list or other kind of value under the record's key
			// (another application sharing the prefix): not a record this
			// store wrote, as a string too short for one is not.
			return core.Record{}, false, fmt.Errorf("sessionkit: redis: load: %w: not a sessionkit record: %w", core.ErrCorrupt, err)
		}
		return core.Record{}, false, fmt.Errorf("sessionkit: redis: load: %w", err)
	}
	value := cmd.Val()
	if len(value) < headerLen {
		return core.Record{}, false, fmt.Errorf("sessionkit: redis: load: %w: not a sessionkit record", core.ErrCorrupt)
	}
	exp := binary.BigEndian.Uint64([]byte(value[versionLen:headerLen]))
	data := value[headerLen:]
	if exp&filedBit != 0 {
		if len(data) < tailLen {
			return core.Record{}, false, fmt.Errorf("sessionkit: redis: load: %w: truncated user filing", core.ErrCorrupt)
		}
		data = data[:len(data)-tailLen]
	}
	expiry := time.Unix(0, int64(exp&^filedBit))
	if !time.Now().Before(expiry) {
		return core.Record{}, false, nil
	}
	return core.Record{
		Data:    []byte(data),
		Expiry:  expiry,
		Version: binary.BigEndian.Uint64([]byte(value[:versionLen])),
	}, true, nil
}

// Save stores data under key until expiry in one round trip (a script that
// keeps the record's filing under a user). An expiry less than a
// millisecond away deletes the record.
func (s *Store) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if !core.ValidKey(key) {
		return fmt.Errorf("sessionkit: redis: save: %w", core.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: redis: save: %w", err)
	}
	if _, err := s.write(ctx, key, 0, true, newVersion(), data, expiry); err != nil {
		return fmt.Errorf("sessionkit: redis: save: %w", err)
	}
	return nil
}

// Delete removes the record under key, in one round trip. A missing key is
// not an error. Where the user sets share the record's slot (see
// Config.KeyPrefix) a script deletes the record and takes the key out of
// its user's set at once; on a Cluster across slots the key stays in its
// user's set until UserKeys or a filing prunes it.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !core.ValidKey(key) {
		return fmt.Errorf("sessionkit: redis: delete: %w", core.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: redis: delete: %w", err)
	}
	if s.oneSlot {
		c := s.newCall(key)
		c.arg.b = c.arg.b[:0]
		_, err := deleteScript.run(ctx, s.client, c)
		c.release()
		if err != nil {
			return fmt.Errorf("sessionkit: redis: delete: %w", err)
		}
		return nil
	}
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		return fmt.Errorf("sessionkit: redis: delete: %w", err)
	}
	return nil
}

// Touch sets the expiry of the record under key, in one round trip and
// atomically, without changing its data, version or filing. A missing
// record, or one whose expiry has passed (by this process's clock, as in
// Load), stays missing (an error wrapping core.ErrNotFound); an expiry that
// is not in the future deletes the record.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if !core.ValidKey(key) {
		return fmt.Errorf("sessionkit: redis: touch: %w", core.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: redis: touch: %w", err)
	}
	now := time.Now()
	c := s.newCall(key)
	c.arg.b = binary.BigEndian.AppendUint64(c.arg.b[:0], uint64(expiry.UnixNano()))
	c.arg.b = binary.BigEndian.AppendUint64(c.arg.b, uint64(ttlOf(expiry, now).Milliseconds()))
	c.arg.b = append(c.arg.b, s.slotFlag())
	c.arg.b = binary.BigEndian.AppendUint64(c.arg.b, uint64(now.UnixNano()))
	n, err := touchScript.run(ctx, s.client, c)
	c.release()
	if err != nil {
		return fmt.Errorf("sessionkit: redis: touch: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sessionkit: redis: touch: %w", core.ErrNotFound)
	}
	return nil
}

// CompareAndSwap stores data under key until expiry if the record's version
// equals version (zero: only if no live record exists), atomically and in
// one round trip, keeping the record's filing under a user. Versions are
// random non-zero 64-bit numbers, so a record that was deleted and
// re-created never matches an old version. A record whose expiry has
// passed (by this process's clock, as in Load) but that Redis still holds
// counts as none.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	if !core.ValidKey(key) {
		return 0, fmt.Errorf("sessionkit: redis: compare-and-swap: %w", core.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sessionkit: redis: compare-and-swap: %w", err)
	}
	nv := newVersion()
	if version == 0 {
		// Most often a new session's key, which nothing holds yet.
		created, err := s.create(ctx, key, nv, data, expiry)
		if err != nil {
			return 0, fmt.Errorf("sessionkit: redis: compare-and-swap: %w", err)
		}
		if created {
			return nv, nil
		}
	}
	ok, err := s.write(ctx, key, version, false, nv, data, expiry)
	if err != nil {
		return 0, fmt.Errorf("sessionkit: redis: compare-and-swap: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("sessionkit: redis: compare-and-swap: %w", core.ErrConflict)
	}
	return nv, nil
}

// write runs casScript (any version when anyVersion, else only over
// version) and reports whether it wrote.
func (s *Store) write(ctx context.Context, key string, version uint64, anyVersion bool, nv uint64, data []byte, expiry time.Time) (bool, error) {
	var flags byte
	if anyVersion {
		flags |= 1
	}
	flags |= s.slotFlag()
	now := time.Now()
	c := s.newCall(key)
	c.arg.b = binary.BigEndian.AppendUint64(c.arg.b[:0], version)
	c.arg.b = binary.BigEndian.AppendUint64(c.arg.b, uint64(ttlOf(expiry, now).Milliseconds()))
	c.arg.b = append(c.arg.b, flags)
	c.arg.b = binary.BigEndian.AppendUint64(c.arg.b, uint64(now.UnixNano()))
	c.arg.b = appendRecord(c.arg.b, nv, expiry, data)
	n, err := casScript.run(ctx, s.client, c)
	c.release()
	return n == 1, err
}

// create writes the record of a CompareAndSwap of version zero with SET
// NX PX, a plain command, when no key exists at all, and reports whether
// it did. A script costs Redis several times a SET (EVALSHA of casScript
// 17.7 µs a call against SET's 2.7 µs, INFO commandstats during
// BenchmarkStore): a new session's write, whose fresh key nothing holds,
// need not pay it. A key that exists (a live record, or one past its
// expiry that Redis still holds, or an expiry that is not in the future,
// which deletes) is left to casScript, which tells them apart: the
// conflict or the replacement costs a second round trip.
func (s *Store) create(ctx context.Context, key string, nv uint64, data []byte, expiry time.Time) (bool, error) {
	ttl := ttlOf(expiry, time.Now()).Milliseconds()
	if ttl <= 0 {
		return false, nil
	}
	c := s.newCall(key)
	c.arg.b = appendRecord(c.arg.b[:0], nv, expiry, data)
	c.num.b = strconv.AppendInt(c.num.b[:0], ttl, 10)
	c.args = [6]any{"set", &c.key, &c.arg, "px", &c.num, "nx"}
	cmd := goredis.NewStatusCmd(ctx, c.args[:]...)
	err := s.client.Process(ctx, cmd)
	c.release()
	if errors.Is(err, goredis.Nil) {
		return false, nil // the key exists
	}
	return err == nil, err
}

// slotFlag is the scripts' flag 2 when the user sets share the records'
// slot, else 0.
func (s *Store) slotFlag() byte {
	if s.oneSlot {
		return 2
	}
	return 0
}

// wantVersion returns the version header casScript compares with: empty
// for version zero ("no record").
func wantVersion(version uint64) string {
	if version == 0 {
		return ""
	}
	return string(binary.BigEndian.AppendUint64(make([]byte, 0, versionLen), version))
}

// ttlOf returns the time left from now until expiry, truncated to
// milliseconds so that Redis keeps a record past its expiry only by the
// time its command takes to reach Redis, and zero when expiry is not
// after now.
func ttlOf(expiry, now time.Time) time.Duration {
	return max(expiry.Sub(now).Truncate(time.Millisecond), 0)
}

// encode returns the stored value of an unfiled record: the header, then
// data.
func encode(version uint64, expiry time.Time, data []byte) []byte {
	return appendRecord(make([]byte, 0, headerLen+len(data)), version, expiry, data)
}

// appendRecord appends the stored value (the header, then data) to b.
func appendRecord(b []byte, version uint64, expiry time.Time, data []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(expiry.UnixNano()))
	return append(b, data...)
}

// newVersion returns a random non-zero version.
func newVersion() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}
