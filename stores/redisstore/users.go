package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
)

// The user index
//
// Each user with filed sessions has one sorted set, KeyPrefix + "user:" +
// the hex SHA-256 of the user id (so no user id appears in a key name; a
// guessable id can still be confirmed by hashing guesses). Its members are
// the session keys (without the prefix), scored in Unix milliseconds.
// Every filing first drops the members whose score has passed
// (ZREMRANGEBYSCORE -inf now) and sets the set's TTL to its largest score,
// so a set never outlives the last session filed in it. The record itself
// carries its filing (until and its user's hash), which is how
// CompareAndSwapUser with another user, or with "", finds the set to remove
// the key from (where the two share a slot), and how UserKeys tells a
// current member from a stale one.
//
// Where the record and its user set share a slot, a member's score is
// min(expiry, until): every script that rewrites a filed record (Save,
// CompareAndSwap, Touch) moves its score with its expiry and extends the
// set's TTL, and Delete removes the member, so an entry leaves with its
// session, logged out or idle-expired. On a Cluster across slots the
// score is until (a Touch cannot reach the set there), and each filing
// checks a few random members' records and removes those that are gone.
// There a key filed under another user, or under none, stays a member of
// its previous user's set (skipped by UserKeys: the record names its
// user) until its score passes or its record is gone: a removal made after
// the record was written, from another slot, could land after a
// concurrent request had filed the key under that user again, leaving a
// filed record unlisted.
//
// Where the record and the user sets share a slot (a single node or a
// Sentinel failover client always; a Cluster or Ring when KeyPrefix has a
// hash tag such as "{sessions}:") the record and the sets change in one
// script: atomic, one round trip. Otherwise (a Cluster without a hash tag,
// where a script over the record and the set is refused with CROSSSLOT) the
// script writes the record only and the sets are updated by a pipeline
// right after it: two round trips. See CompareAndSwapUser for the window
// that leaves.
//
// The sets rely on Redis keeping its keys, as the records do: under a
// maxmemory policy that evicts keys, a user's set may be evicted (its
// sessions are then missing from UserKeys until their next filing), just
// as sessions may be.

// fileLua adds member ARGV[1] to the user set KEYS[1] with score ARGV[2]
// (Unix ms, see the user index above), after dropping the members whose
// score is at or before ARGV[3] (now, Unix ms), and sets the set's TTL to
// its largest score. Given firstof, the until of fileFirst's first step
// (whose score is until + 0.5), it scores the member only when it is not
// there yet or scored below until, and then until + 0.5, never a final
// score: see pruneScript.
const fileLua = `
local function file(set, member, untilms, now, firstof)
	redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
	if tonumber(untilms) > tonumber(now) then
		local add = true
		if firstof and firstof ~= '' then
			local sc = redis.call('ZSCORE', set, member)
			add = not sc or tonumber(sc) < tonumber(firstof)
		end
		if add then
			redis.call('ZADD', set, untilms, member)
		end
	end
	local top = redis.call('ZRANGE', set, -1, -1, 'WITHSCORES')
	if top[2] then
		redis.call('PEXPIRE', set, math.max(1, math.ceil(tonumber(top[2]) - tonumber(now))))
	end
end
`

// fileScript is fileLua on its own, for the user set of a Cluster whose
// slots differ from the record's: fileFirst (ARGV[4] is until) and refile
// (ARGV[4] is "").
var fileScript = goredis.NewScript(fileLua + `
file(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
`)

// pruneScript removes from the user set KEYS[1] each member ARGV[2i-1]
// whose score still is ARGV[2i]: a member rescored since is kept. A filing
// that finds its key absent from the set adds it scored until + 0.5
// (fileFirst), and its last step, after the record write, scores it until
// (refile); a filing that finds the key there already, scored until or
// more, leaves its score alone, and one that finds it scored lower (an
// earlier, shorter until) scores it until + 0.5 too. So a pruning that
// found the record missing while the key was scored until + 0.5 cannot
// match it once a filing's last step has scored it until, however many
// filings of the key with that until follow, and the first step never
// gives a key the score its last step will. (A key whose record ended and
// that is created again, at version zero, under the same user and until
// is the exception: the core never reuses a key.) It returns how many it
// removed.
var pruneScript = goredis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
	local sc = redis.call('ZSCORE', KEYS[1], ARGV[i])
	if sc and tonumber(sc) == tonumber(ARGV[i + 1]) then
		n = n + redis.call('ZREM', KEYS[1], ARGV[i])
	end
end
return n
`)

// userCASScript is casScript that also changes the record's filing.
// KEYS[1] is the record; KEYS[2], present when the sets share the record's
// slot and the new user is not empty, is the new user's set. ARGV[1] is
// the expected version header ("" for no record), ARGV[2] the new value
// (unfiled), ARGV[3] its TTL in ms (0 deletes), ARGV[4] the new user's hash
// ("" for none), ARGV[5] until and ARGV[6] now in Unix ms, ARGV[7] the
// prefix of the user sets when the script maintains them ("" when the
// caller does), ARGV[8] the record's filing tail (until as 8 bytes, then
// ARGV[4]), ARGV[9] now in Unix nanoseconds (8 bytes, big-endian). A
// record whose expiry has passed (see live) counts as none: a version does
// not match it and a write replaces it, taking its key out of the set it
// was filed in. It returns {1, the hash the record was filed under before
// ("" for none)} when it wrote, {0, ""} on a conflict. The new member's
// score is min(expiry, until), see rescore.
var userCASScript = goredis.NewScript(fileLua + liveLua + `
local head = redis.call('GETRANGE', KEYS[1], 0, 15)
if head == '' or (#head == 16 and not live(head, ARGV[9], 1)) then
	if ARGV[1] ~= '' then return {0, ''} end
elseif #head < 16 or string.sub(head, 1, 8) ~= ARGV[1] then
	return {0, ''}
end
local old = ''
if #head == 16 and string.byte(head, 9) >= 128 then
	old = redis.call('GETRANGE', KEYS[1], -64, -1)
end
local new = ARGV[4]
local ttl = tonumber(ARGV[3])
if ttl <= 0 then
	redis.call('DEL', KEYS[1])
	new = ''
else
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
	if new ~= '' then
		redis.call('SETRANGE', KEYS[1], 8, string.char(string.byte(ARGV[2], 9) + 128))
		redis.call('APPEND', KEYS[1], ARGV[8])
	end
end
if ARGV[7] ~= '' then
	local member = string.sub(KEYS[1], -64)
	if old ~= '' and old ~= new then
		redis.call('ZREM', ARGV[7] .. old, member)
	end
	if new ~= '' then
		file(KEYS[2], member, math.min(tonumber(ARGV[5]), tonumber(ARGV[6]) + ttl), ARGV[6])
	end
end
return {1, old}
`)

// userKeysScript lists the user set KEYS[1] after dropping the members past
// their until (ARGV[1], now in Unix ms) and those whose record (ARGV[2], the
// session key prefix, + member) is gone or no longer filed under the user
// whose hash is ARGV[3]. It is used when the records share the set's slot.
// A member whose key holds a value of another kind than a string is no
// record of the user's either (pcall: GETRANGE fails on it).
var userKeysScript = goredis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local live = {}
for _, m in ipairs(members) do
	local k = ARGV[2] .. m
	local head = redis.pcall('GETRANGE', k, 0, 15)
	if type(head) == 'string' and #head == 16 and string.byte(head, 9) >= 128 and redis.call('GETRANGE', k, -64, -1) == ARGV[3] then
		live[#live + 1] = m
	else
		redis.call('ZREM', KEYS[1], m)
	end
end
return live
`)

// CompareAndSwapUser is CompareAndSwap that also files the record under
// user (taking it off the listing of the user it was filed under before),
// or under no user when user is "". The record remembers its user, so
// CompareAndSwap, Save and Touch keep the filing; Delete, an expiry or an
// expiry that is not in the future ends it.
//
// Costs: on a single node, behind Sentinel, or with a hash-tagged prefix it
// is one round trip and atomic: one script writes the record, removes the
// key from the previous user's set and adds it to the new one, dropping
// that set's members past their score and setting its TTL to the largest
// score (O(log n) per change in a set of n keys).
//
// On a Cluster without a hash tag the user set and the record usually live
// in different slots, where one script cannot touch both (CROSSSLOT). The
// key is then added to the new user's set first (one round trip, which
// also picks a few random members to check), the record is written by the
// script (one), and a pipeline (one) confirms the new member and checks
// the picked members' records; the picked members whose record is gone
// are removed (one more, only then). The key stays in the previous user's
// set, skipped by UserKeys, until its score passes or its record is gone
// (see the user index above). A failure after the first step leaves a
// member whose record is not filed under the user, which UserKeys skips.
// Whatever the order in which concurrent filings of one key reach the sets,
// a record filed by a CompareAndSwapUser that returned no error is listed
// until its until. One that returned an error after its record write (its
// last step failed) is listed too, scored until + 0.5 or an until at least
// as late, unless a pruning (a UserKeys, or another filing's check of a
// few members) that found the record missing before the write removes the
// key meanwhile: then it is not listed (a later filing under the user
// lists it again).
func (s *Store) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	if !core.ValidKey(key) {
		return 0, fmt.Errorf("sessionkit: redis: compare-and-swap-user: %w", core.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sessionkit: redis: compare-and-swap-user: %w", err)
	}
	clock := time.Now()
	ttl := ttlOf(expiry, clock)
	owner := ""
	if user != "" {
		owner = userHash(user)
	}
	now := clock.UnixMilli()
	untilMs := max(until.UnixMilli(), 0)
	keys := []string{s.prefix + key}
	sets := ""
	var sample []goredis.Z
	if s.oneSlot {
		sets = s.userPrefix
		if owner != "" {
			keys = append(keys, s.userPrefix+owner)
		}
	} else if owner != "" && ttl > 0 && untilMs > now {
		var err error
		if sample, err = s.fileFirst(ctx, key, owner, untilMs, now); err != nil {
			return 0, fmt.Errorf("sessionkit: redis: compare-and-swap-user: update the user's set: %w", err)
		}
	}
	tail := ""
	if owner != "" {
		tail = string(binary.BigEndian.AppendUint64(nil, uint64(untilMs))) + owner
	}
	nv := newVersion()
	res, err := userCASScript.Run(ctx, s.client, keys, wantVersion(version), encode(nv, expiry, data),
		ttl.Milliseconds(), owner, untilMs, now, sets, tail, binary.BigEndian.AppendUint64(nil, uint64(clock.UnixNano()))).Slice()
	if err != nil {
		return 0, fmt.Errorf("sessionkit: redis: compare-and-swap-user: %w", err)
	}
	if len(res) != 2 {
		return 0, errors.New("sessionkit: redis: compare-and-swap-user: unexpected script reply")
	}
	if n, _ := res[0].(int64); n != 1 {
		return 0, fmt.Errorf("sessionkit: redis: compare-and-swap-user: %w", core.ErrConflict)
	}
	if !s.oneSlot {
		if ttl <= 0 || untilMs <= now {
			owner = "" // the record was ended, or its filing: it is listed nowhere
		}
		if err := s.refile(ctx, key, owner, untilMs, now, sample); err != nil {
			return 0, fmt.Errorf("sessionkit: redis: compare-and-swap-user: update the user sets: %w", err)
		}
	}
	return nv, nil
}

// pruneSample is how many random members of a user set a filing on a
// Cluster across slots checks.
const pruneSample = 4

// fileFirst adds key to the set of the user hashed owner, scored until +
// 0.5 (a filing in progress, see pruneScript), before the record is
// written, for a store whose records and sets live in different slots; a
// key that is a member already keeps its score until refile. It returns
// pruneSample random members of the set, with their scores.
func (s *Store) fileFirst(ctx context.Context, key, owner string, untilMs, now int64) ([]goredis.Z, error) {
	set := s.userPrefix + owner
	args := []any{key, float64(untilMs) + 0.5, now, untilMs}
	pipe := s.client.Pipeline()
	file := queueFile(ctx, pipe, set, args...)
	sample := pipe.ZRandMemberWithScores(ctx, set, pruneSample)
	_, _ = pipe.Exec(ctx) // each command's error is checked below
	if err := file.err(ctx, s.client); err != nil {
		return nil, err
	}
	if sample.Err() != nil {
		return nil, nil // pruning is best effort
	}
	return sample.Val(), nil
}

// queuedFile is fileScript queued in a pipeline on one user set.
type queuedFile struct {
	cmd  *goredis.Cmd
	set  string
	args []any
}

// queueFile queues fileScript on set with args in pipe, by EVALSHA.
func queueFile(ctx context.Context, pipe goredis.Pipeliner, set string, args ...any) *queuedFile {
	return &queuedFile{cmd: fileScript.EvalSha(ctx, pipe, []string{set}, args...), set: set, args: args}
}

// err returns the queued script's error once the pipeline has run. When
// the set's node did not know the script (its first use there, or a
// restart or failover since), it runs it again by EVAL, which loads it.
func (f *queuedFile) err(ctx context.Context, client goredis.UniversalClient) error {
	err := f.cmd.Err()
	if goredis.HasErrorPrefix(err, "NOSCRIPT") {
		err = fileScript.Eval(ctx, client, []string{f.set}, f.args...).Err()
	}
	return err
}

// refile finishes a filing for a store whose records and sets live in
// different slots, in one pipeline: it confirms key in the set of the user
// hashed owner (none when owner is ""; the score loses the 0.5 of
// fileFirst) with fileScript, which also sets the set's TTL to its largest
// score (a plain ZADD would keep a TTL set before the key's until was, or
// make a set that a pruning had emptied meanwhile without one), and
// checks the records of sample, members of owner's set, then removes those
// whose record is gone. It leaves key in the set of the user it was filed
// under before: see the user index above.
func (s *Store) refile(ctx context.Context, key, owner string, untilMs, now int64, sample []goredis.Z) error {
	pipe := s.client.Pipeline()
	var file *queuedFile
	if owner != "" {
		file = queueFile(ctx, pipe, s.userPrefix+owner, key, untilMs, now, "")
	}
	checks := make([]*goredis.IntCmd, len(sample))
	for i, z := range sample {
		if m, _ := z.Member.(string); core.ValidKey(m) && m != key {
			checks[i] = pipe.Exists(ctx, s.prefix+m)
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, _ = pipe.Exec(ctx) // each command's error is checked below
	if file != nil {
		if err := file.err(ctx, s.client); err != nil {
			return err
		}
	}
	var gone []any
	for i, c := range checks {
		if c != nil && c.Err() == nil && c.Val() == 0 {
			gone = append(gone, sample[i].Member, strconv.FormatFloat(sample[i].Score, 'f', -1, 64))
		}
	}
	if len(gone) > 0 {
		_ = pruneScript.Run(ctx, s.client, []string{s.userPrefix + owner}, gone...).Err() // best effort
	}
	return nil
}

// UserKeys returns the keys of the live records filed under user, at
// most one per session, in no particular order.
//
// It drops the set's members whose until has passed, and those whose
// record is gone (deleted, expired or ended) or, where the records share
// the set's slot, now filed under another user or none, so the set shrinks
// to the live sessions as it is read. It checks every member's record, so
// it never returns a key filed under another user, even in the window
// CompareAndSwapUser leaves on a Cluster.
//
// Costs: O(n) for a set of n members. Where the records share the set's
// slot it is one script and one round trip (the script blocks that Redis
// node for the n record lookups: about a millisecond per few thousand
// keys), and the listing is a snapshot. On a Cluster without a hash tag a
// reading is three round trips: the set (pruned of past untils), then a
// pipeline of two GETRANGEs per member to the records' nodes, then, when
// some records are gone, a pruneScript of those; a reading that finds a
// record newly ended or filed elsewhere is followed by another (see
// userKeysSplit). There, a member whose record is filed elsewhere is only
// skipped, not removed (its record may be filed under this user again by
// then): its until removes it, or the end of its record; until then each
// UserKeys that meets it reads the set once more.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sessionkit: redis: user-keys: %w", err)
	}
	if user == "" {
		return nil, nil
	}
	owner := userHash(user)
	set := s.userPrefix + owner
	now := time.Now().UnixMilli()
	var (
		keys []string
		err  error
	)
	if s.oneSlot {
		keys, err = userKeysScript.Run(ctx, s.client, []string{set}, now, s.prefix, owner).StringSlice()
	} else {
		keys, err = s.userKeysSplit(ctx, set, owner, now)
	}
	if err != nil {
		return nil, fmt.Errorf("sessionkit: redis: user-keys: %w", err)
	}
	out := keys[:0]
	for _, k := range keys {
		if core.ValidKey(k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// userKeysPasses bounds the readings of one UserKeys on a Cluster.
const userKeysPasses = 16

// userKeysSplit is UserKeys for records that live in other slots than the
// user set. The set and the records are read one after the other, so when
// it finds a record newly ended, or filed elsewhere, it reads the set
// again: a renew files the new key before it ends the old one, so the set
// holds the new key by then. Under churn that lasts userKeysPasses
// readings it returns the last reading's live keys with those it found
// newly ended (ended moments ago: the core, finding them ended, lists
// again).
func (s *Store) userKeysSplit(ctx context.Context, set, owner string, now int64) ([]string, error) {
	dead := make(map[string]bool)
	for pass := 1; ; pass++ {
		live, freshGone, fresh, err := s.setPass(ctx, set, owner, now, dead)
		if err != nil {
			return nil, err
		}
		if !fresh || pass == userKeysPasses {
			return append(live, freshGone...), nil
		}
		now = time.Now().UnixMilli()
	}
}

// setPass reads the user set once (pruned of past untils) and checks each
// member's record: it returns the members filed under owner. The members
// found with their record gone or filed elsewhere that dead did not hold
// yet under their current score are added to it (as member@score) and
// reported by fresh, and listed in freshGone. It removes the members whose
// record is gone.
func (s *Store) setPass(ctx context.Context, set, owner string, now int64, dead map[string]bool) (live, freshGone []string, fresh bool, err error) {
	var scored *goredis.ZSliceCmd
	if _, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, set, "-inf", strconv.FormatInt(now, 10))
		scored = p.ZRangeByScoreWithScores(ctx, set, &goredis.ZRangeBy{Min: "(" + strconv.FormatInt(now, 10), Max: "+inf"})
		return nil
	}); err != nil {
		return nil, nil, false, err
	}
	if len(scored.Val()) == 0 {
		return nil, nil, false, nil
	}
	members := make([]string, len(scored.Val()))
	for i, z := range scored.Val() {
		members[i], _ = z.Member.(string)
	}
	checks := make([]check, len(members))
	if _, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, m := range members {
			checks[i] = check{p.GetRange(ctx, s.prefix+m, 8, 8), p.GetRange(ctx, s.prefix+m, -ownerLen, -1)}
		}
		return nil
	}); err != nil && !onlyWrongType(err, checks) {
		return nil, nil, false, err
	}
	var gone []any
	for i, m := range members {
		flag := checks[i].flag.Val()
		switch {
		case flag != "" && flag[0] >= 0x80 && checks[i].tail.Val() == owner:
			live = append(live, m)
			continue
		case flag == "":
			// Removed only if its score is unchanged (see pruneScript).
			gone = append(gone, m, strconv.FormatFloat(scored.Val()[i].Score, 'f', -1, 64))
		}
		// A member is known dead under the score it had: one seen gone
		// while its filing was in progress (scored until + 0.5, record
		// not written yet) that shows up refiled (scored until) and gone
		// again was live in between, and ended since.
		if at := m + "@" + strconv.FormatFloat(scored.Val()[i].Score, 'f', -1, 64); !dead[at] {
			// Gone, or retired by a renew (no longer filed here): either
			// way it may have ended moments ago, and its successor, filed
			// first, shows in the next reading; the last one returns it.
			// A key refiled elsewhere long ago stays a member too (see the
			// user index), and costs a reading the first time each
			// UserKeys meets it.
			dead[at], fresh = true, true
			freshGone = append(freshGone, m)
		}
	}
	if len(gone) > 0 {
		if err := pruneScript.Run(ctx, s.client, []string{set}, gone...).Err(); err != nil {
			return nil, nil, false, err
		}
	}
	return live, freshGone, fresh, nil
}

// onlyWrongType reports whether err, the error of setPass's pipeline, is
// a WRONGTYPE error and no GETRANGE of checks failed otherwise. GETRANGE
// fails so on a member whose key holds another kind of value than a string
// (another application's, under the prefix); its cmds then read "", as a
// gone record's do, which is what such a key is to the user index.
func onlyWrongType(err error, checks []check) bool {
	if !goredis.HasErrorPrefix(err, "WRONGTYPE") {
		return false
	}
	for _, c := range checks {
		for _, cmd := range [2]*goredis.StringCmd{c.flag, c.tail} {
			if e := cmd.Err(); e != nil && !goredis.HasErrorPrefix(e, "WRONGTYPE") {
				return false
			}
		}
	}
	return true
}

// check is a member's two GETRANGEs in setPass: its record's flag byte
// and its owner's hash.
type check struct{ flag, tail *goredis.StringCmd }

// userHash names a user in key names and records: the hex SHA-256 of id.
func userHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
