package memcachestore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/core"
)

// The user lists
//
// Each user with filed sessions has one item, KeyPrefix + "user:" + the
// unpadded base64url SHA-256 of the user id (no user id in a key name),
// listing the user's session keys, each with its until: 40 bytes per
// session. Every change reads the list with gets and writes it back with
// cas, retrying when another writer got in between, and drops the entries
// whose until has passed; the item's memcached expiration is the largest
// until (rounded up to memcached's second), so a list outlives its last
// session by at most two seconds. An item holds at most
// (MaxItemSize-1)/40 entries (about 26 000 with the default size); past
// that the entries with the earliest until are dropped.
//
// A record filed under a user carries the user's hash in its header, which
// is how CompareAndSwapUser finds the list to remove a key from, and how
// UserKeys tells a current entry from a stale one.

// The store keeps a list of sessions per user.
var _ core.UserIndexer = (*Store)(nil)

const (
	listFormat   = 0x01
	listEntryLen = 32 + 8 // raw key, until in Unix nanoseconds
	// listRetries bounds the gets/cas rounds of one list update.
	listRetries = 64
	// multiGetBatch bounds the keys of one GetMulti in UserKeys.
	multiGetBatch = 500
)

// listEntry is one session in a user's list.
type listEntry struct {
	key   [32]byte
	until int64
}

// CompareAndSwapUser is CompareAndSwap that also files the record under
// user (taking it off the list of the user it was filed under before), or
// under no user when user is "". The record keeps its filing through
// CompareAndSwap and Touch; Save writes a record whose filing is unknown,
// which counts as filed under the user whose list already holds its key.
//
// It writes the record first (two round trips, one for version zero), then
// updates the old user's list and the new user's list with gets and cas:
// two more round trips for each list that changes, more when concurrent
// filings of the same user collide. Each update rewrites the whole list:
// O(n) bytes for a user with n filed sessions. Between the record write
// and the list update the record is filed but not listed (UserKeys misses
// it while this call has not returned). When a list update fails (a server
// error, or a list still contended after many retries), the call returns
// that error although the record was written; the key then stays off the
// list until the record's next CompareAndSwapUser. See the package
// documentation for what eviction does to the lists.
func (s *Store) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	if !core.ValidKey(key) {
		return 0, fmt.Errorf("sessionkit: memcache: compare-and-swap-user: %w", core.ErrInvalidKey)
	}
	if headerLen+len(data) > s.maxItem {
		return 0, fmt.Errorf("sessionkit: memcache: compare-and-swap-user: %w: %d bytes, limit %d", core.ErrTooLarge, len(data), s.MaxRecordSize())
	}
	var owner [ownerLen]byte
	if user != "" {
		owner = sha256.Sum256([]byte(user))
	}
	nv := newVersion()
	err := s.do(ctx, func() error {
		now := time.Now()
		item := &memcache.Item{
			Key:        s.prefix + key,
			Value:      encode(header{version: nv, expiry: expiry, filed: true, owner: owner}, data),
			Expiration: expiration(expiry, now),
		}
		var old header
		if version == 0 {
			if err := s.create(item, now); err != nil {
				return err
			}
		} else {
			cur, err := s.client.Get(item.Key)
			if errors.Is(err, memcache.ErrCacheMiss) {
				return core.ErrConflict
			}
			if err != nil {
				return err
			}
			if old, _, err = decode(cur.Value); err != nil {
				return err
			}
			if old.version != version || !old.live(now) {
				return core.ErrConflict
			}
			item.CasID = cur.CasID
			if err := casResult(s.client.CompareAndSwap(item)); err != nil {
				return err
			}
		}
		filed := user != "" && expiry.After(now) && until.After(now)
		if old.filed && old.owner != ([ownerLen]byte{}) && (old.owner != owner || !filed) {
			if err := s.updateList(ctx, old.owner, key, 0); err != nil {
				return fmt.Errorf("update the previous user's list: %w", err)
			}
		}
		if filed {
			if err := s.updateList(ctx, owner, key, until.UnixNano()); err != nil {
				return fmt.Errorf("update the user's list: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, s.wrap("compare-and-swap-user", key, err)
	}
	return nv, nil
}

// UserKeys returns the keys of the live records filed under user, in no
// particular order.
//
// It reads the user's list (one round trip), drops the entries past their
// until, then reads every listed record (one round trip per server and per
// 500 keys) and drops the entries whose record is gone (deleted, expired,
// evicted) or filed under another user or none. When it dropped any, it
// writes the shorter list back with one cas (one more round trip; skipped
// when another writer changed the list meanwhile, which prunes it in turn).
// Cost: O(n) for a list of n entries, in bytes read and records fetched.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sessionkit: memcache: user-keys: %w", err)
	}
	if user == "" {
		return nil, nil
	}
	owner := sha256.Sum256([]byte(user))
	var keys []string // written by the call: read only on success
	err := s.do(ctx, func() error {
		cur, err := s.client.Get(s.listKey(owner))
		if errors.Is(err, memcache.ErrCacheMiss) {
			return nil
		}
		if err != nil {
			return err
		}
		entries := decodeList(cur.Value)
		now := time.Now()
		live := make([]listEntry, 0, len(entries))
		for _, e := range entries {
			if e.until > now.UnixNano() {
				live = append(live, e)
			}
		}
		kept, err := s.keepFiled(live, owner, now)
		if err != nil {
			return err
		}
		if len(kept) != len(entries) {
			writeBack(s.client, cur, kept, now)
		}
		keys = make([]string, len(kept))
		for i, e := range kept {
			keys[i] = hex.EncodeToString(e.key[:])
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("user-keys", s.listKey(owner), err)
	}
	return keys, nil
}

// keepFiled returns the entries whose record is live and filed under owner
// (or of unknown filing).
func (s *Store) keepFiled(entries []listEntry, owner [ownerLen]byte, now time.Time) ([]listEntry, error) {
	kept := entries[:0:0]
	for chunk := range slices.Chunk(entries, multiGetBatch) {
		ids := make([]string, len(chunk))
		for i, e := range chunk {
			ids[i] = s.prefix + hex.EncodeToString(e.key[:])
		}
		items, err := s.client.GetMulti(ids)
		if err != nil {
			return nil, err
		}
		for i, e := range chunk {
			item, ok := items[ids[i]]
			if !ok {
				continue
			}
			h, _, err := decode(item.Value)
			if err != nil || !h.live(now) || (h.filed && h.owner != owner) {
				continue
			}
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// writeBack stores the pruned list with one cas, expiring an empty list.
// Losing the race is fine: the winner pruned the list too.
func writeBack(c *memcache.Client, cur *memcache.Item, entries []listEntry, now time.Time) {
	cur.Value = encodeList(entries)
	cur.Expiration = listExpiration(entries, now)
	_ = c.CompareAndSwap(cur)
}

// updateList takes key off owner's list and, when until is not zero, puts
// it back with until, dropping the entries past their until, with gets and
// cas (add for a missing list), retrying while other writers win.
func (s *Store) updateList(ctx context.Context, owner [ownerLen]byte, key string, until int64) error {
	var k [32]byte
	if _, err := hex.Decode(k[:], []byte(key)); err != nil {
		return err
	}
	id := s.listKey(owner)
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		cur, err := s.client.Get(id)
		if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
			return err
		}
		var entries []listEntry
		if cur != nil {
			entries = decodeList(cur.Value)
		}
		now := time.Now()
		entries = slices.DeleteFunc(entries, func(e listEntry) bool { return e.key == k || e.until <= now.UnixNano() })
		if until != 0 {
			entries = append(entries, listEntry{key: k, until: until})
		}
		entries = s.trim(entries)
		switch {
		case cur == nil && len(entries) == 0:
			return nil
		case cur == nil:
			err = s.client.Add(&memcache.Item{Key: id, Value: encodeList(entries), Expiration: listExpiration(entries, now)})
		default:
			cur.Value = encodeList(entries)
			cur.Expiration = listExpiration(entries, now)
			err = s.client.CompareAndSwap(cur)
		}
		if !errors.Is(casResult(err), core.ErrConflict) {
			return err
		}
		if attempt == listRetries {
			return errors.New("the user's list stayed contended")
		}
		// Back off a little, at random, so colliding writers spread out.
		time.Sleep(time.Duration(rand.Int64N(int64(attempt+1) * int64(200*time.Microsecond))))
	}
}

// trim drops the entries with the earliest until while the list would not
// fit in one item.
func (s *Store) trim(entries []listEntry) []listEntry {
	limit := (s.maxItem - 1) / listEntryLen
	if len(entries) <= limit {
		return entries
	}
	slices.SortFunc(entries, func(a, b listEntry) int { return cmp.Compare(b.until, a.until) })
	return entries[:limit]
}

// listKey names owner's list.
func (s *Store) listKey(owner [ownerLen]byte) string {
	return s.prefix + "user:" + base64.RawURLEncoding.EncodeToString(owner[:])
}

// listExpiration is the memcached expiration of a list: its largest until,
// or expire at once when it is empty.
func listExpiration(entries []listEntry, now time.Time) int32 {
	var last int64
	for _, e := range entries {
		last = max(last, e.until)
	}
	if last == 0 {
		return -1
	}
	return expiration(time.Unix(0, last), now)
}

// encodeList returns a list item's value.
func encodeList(entries []listEntry) []byte {
	b := make([]byte, 1, 1+len(entries)*listEntryLen)
	b[0] = listFormat
	for _, e := range entries {
		b = append(b, e.key[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.until))
	}
	return b
}

// decodeList parses a list item's value; anything malformed reads as an
// empty list, which the next update overwrites.
func decodeList(b []byte) []listEntry {
	if len(b) < 1 || b[0] != listFormat || (len(b)-1)%listEntryLen != 0 {
		return nil
	}
	entries := make([]listEntry, 0, (len(b)-1)/listEntryLen)
	for p := b[1:]; len(p) > 0; p = p[listEntryLen:] {
		var e listEntry
		copy(e.key[:], p)
		e.until = int64(binary.BigEndian.Uint64(p[32:]))
		entries = append(entries, e)
	}
	return entries
}
