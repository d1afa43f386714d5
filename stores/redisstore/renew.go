package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
)

// renewScript is Renew: it checks both keys, then writes the successor,
// retires the old record and moves the filing, or changes nothing.
// KEYS[1] is the old record, KEYS[2] the new one, KEYS[3] (present when
// the successor is filed) the new user's set; every key lives in one slot.
// ARGV[1] packs, at these (1-based) byte offsets:
//
//	1   the old record's version (8 bytes; all zero never matches)
//	9   now, Unix ns (8 bytes, big-endian, as every number below)
//	17  the successor's TTL in ms (0: it is not written)
//	25  the retired marker's TTL in ms (0: the old record is deleted)
//	33  the successor's score in its user's set, Unix ms: min(expiry, until)
//	41  the length n of the successor's value
//	49  the successor's value: header (with the filed bit when filed),
//	    data, and when filed its filing tail (until, then the user's hash)
//	49+n  the retired marker's value (unfiled), to the end
//
// A record is live while its header's expiry is after now, compared in
// nanoseconds as Load does (see live). It returns 1
// when it wrote, 0 on a conflict (the old record is not live at the
// version, or a live record, or a value that is not a record, holds the
// new key).
var renewScript = newScript(recordLua + fileLua + `
local a = ARGV[1]
local now = math.floor(num(a, 9) / 1000000)
local old, new = KEYS[1], KEYS[2]
local oh = redis.call('GETRANGE', old, 0, 15)
if #oh < 16 or string.sub(oh, 1, 8) ~= string.sub(a, 1, 8) or not live(oh, a, 9) then
	return 0
end
local nh = redis.call('GETRANGE', new, 0, 15)
if nh ~= '' and (#nh < 16 or live(nh, a, 9)) then return 0 end
local function unfile(k, head)
	if #head == 16 and string.byte(head, 9) >= 128 then
		local tail = redis.call('GETRANGE', k, -72, -1)
		redis.call('ZREM', userSet(k, tail), string.sub(k, -64))
	end
end
unfile(new, nh) -- an expired record Redis has not dropped yet
unfile(old, oh)
local n = num(a, 41)
local value = string.sub(a, 49, 48 + n)
local ttl = num(a, 17)
if ttl > 0 then
	redis.call('SET', new, value, 'PX', ttl)
	if string.byte(value, 9) >= 128 then
		file(KEYS[3], string.sub(new, -64), num(a, 33), now)
	end
else
	redis.call('DEL', new)
end
local rttl = num(a, 25)
if rttl > 0 then
	redis.call('SET', old, string.sub(a, 49 + n), 'PX', rttl)
else
	redis.call('DEL', old)
end
return 1
`)

// renewLenAt is the (0-based) offset of the successor's length in
// renewScript's argument.
const renewLenAt = 40

// renewCall holds the reusable arguments of one renewScript: the old
// record's key, the new one's, the new user's set and the packed argument,
// and the command's argument list.
type renewCall struct {
	old, new, set, arg wireArg
	args               [7]any
}

var renewCalls = sync.Pool{New: func() any { return new(renewCall) }}

// Renew moves a session to a new key in one round trip and atomically (one
// script over both keys, see core.Renewer): it creates r.NewKey with
// r.Data until r.Expiry (a new random version, as CompareAndSwap of
// version zero would), replaces r.OldKey, if it is live at r.OldVersion,
// by r.Retired until r.RetiredExpiry (deleting it when r.Retired is nil or
// r.RetiredExpiry is not in the future), files the new key under r.User
// until r.Until (under no user when r.User is "") and takes the old key
// out of its user's set, as CompareAndSwapUser would. When the old record
// is not live at r.OldVersion, or a live record holds r.NewKey, it returns
// an error wrapping core.ErrConflict and changes nothing.
//
// It needs every key of the renewal in one slot: a single node, a
// Sentinel failover client, or a Cluster or Ring whose KeyPrefix has a
// hash tag. Otherwise (session keys and user sets spread over slots) it
// returns an error wrapping core.ErrNotSupported at once, without a round
// trip, and the core renews in separate steps.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	if !core.ValidKey(r.OldKey) || !core.ValidKey(r.NewKey) {
		return 0, fmt.Errorf("sessionkit: redis: renew: %w", core.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sessionkit: redis: renew: %w", err)
	}
	if !s.oneSlot {
		return 0, fmt.Errorf("sessionkit: redis: renew: the keys may live in different cluster slots (KeyPrefix has no hash tag): %w", core.ErrNotSupported)
	}
	now := time.Now()
	ttl := ttlOf(r.Expiry, now)
	var rttl time.Duration
	if r.Retired != nil {
		rttl = ttlOf(r.RetiredExpiry, now)
	}
	untilMs := max(r.Until.UnixMilli(), 0)
	nv := newVersion()
	c := renewCalls.Get().(*renewCall)
	c.old.b = append(append(c.old.b[:0], s.prefix...), r.OldKey...)
	c.new.b = append(append(c.new.b[:0], s.prefix...), r.NewKey...)
	b := binary.BigEndian.AppendUint64(c.arg.b[:0], r.OldVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(now.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(ttl.Milliseconds()))
	b = binary.BigEndian.AppendUint64(b, uint64(rttl.Milliseconds()))
	b = binary.BigEndian.AppendUint64(b, uint64(min(untilMs, r.Expiry.UnixMilli())))
	b = binary.BigEndian.AppendUint64(b, 0) // the successor's length, below
	start := len(b)
	b = appendRecord(b, nv, r.Expiry, r.Data)
	keys := 2
	if r.User != "" {
		b[start+versionLen] |= 0x80 // the filed bit of the expiry field
		b = binary.BigEndian.AppendUint64(b, uint64(untilMs))
		sum := sha256.Sum256([]byte(r.User))
		b = hex.AppendEncode(b, sum[:])
		c.set.b = append(append(c.set.b[:0], s.userPrefix...), b[len(b)-ownerLen:]...)
		keys = 3
	}
	binary.BigEndian.PutUint64(b[renewLenAt:], uint64(len(b)-start))
	if r.Retired != nil {
		b = appendRecord(b, newVersion(), r.RetiredExpiry, r.Retired)
	}
	c.arg.b = b
	n, err := renewScript.runKeys(ctx, s.client, c, keys)
	c.release()
	if err != nil {
		return 0, fmt.Errorf("sessionkit: redis: renew: %w", err)
	}
	if n != 1 {
		return 0, fmt.Errorf("sessionkit: redis: renew: %w", core.ErrConflict)
	}
	return nv, nil
}

// runKeys runs the script on c's old and new keys (and its set, when keys
// is 3) and c's argument, with an argument list that c holds, so that
// go-redis allocates only its command.
func (sc *script) runKeys(ctx context.Context, client goredis.UniversalClient, c *renewCall, keys int) (int64, error) {
	c.args = [7]any{"evalsha", sc.sha, keys, &c.old, &c.new, &c.set, &c.arg}
	args := c.args[:4+keys]
	args[3+keys] = &c.arg
	cmd := goredis.NewIntCmd(ctx, args...)
	err := client.Process(ctx, cmd)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		args[0], args[1] = "eval", sc.src
		cmd = goredis.NewIntCmd(ctx, args...)
		err = client.Process(ctx, cmd)
	}
	return cmd.Val(), err
}

// release returns c to the pool, dropping a large argument buffer (see
// call.release).
func (c *renewCall) release() {
	if cap(c.arg.b) > maxPooled {
		c.arg.b = nil
	}
	c.args = [7]any{}
	renewCalls.Put(c)
}
