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
	"strconv"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/core"
)

// The user lists
//
// Each user with filed sessions has up to 16 list items, KeyPrefix +
// "user:" + the unpadded base64url SHA-256 of the user id (no user id in a
// key name) + "." + the first hex digit of the session key, each listing
// the user's session keys that start with that digit, with their until:
// 40 bytes per session. Spreading one user over 16 items keeps each write
// small and lets concurrent filings of one user mostly touch different
// items. Every change reads one item with gets and writes it back with
// cas, retrying when another writer got in between, and drops the entries
// whose until has passed; the item's memcached expiration is its largest
// until (rounded up to memcached's second), so a list outlives its last
// session by at most two seconds. An item holds at most (MaxItemSize-1)/40
// entries (about 26 000 with the default size, so about 400 000 per user);
// past that the entries with the earliest until are dropped.
//
// A record filed under a user carries the user's hash in its header, which
// is how CompareAndSwapUser finds the list to remove a key from, and how
// UserKeys tells a current entry from a stale one.

// The store keeps a list of sessions per user.
var _ core.UserIndexer = (*Store)(nil)

const (
	listFormat   = 0x01
	listEntryLen = 32 + 8 // raw key, until in Unix nanoseconds
	// listBuckets is the number of list items per user.
	listBuckets = 16
	// listRetries bounds the gets/cas rounds of one list update.
	listRetries = 64
	// multiGetBatch bounds the keys of one GetMulti in UserKeys.
	multiGetBatch = 500
	// userKeysPasses bounds the listings of one UserKeys.
	userKeysPasses = 16
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
// It reads the record (one round trip; none for version zero), puts the
// key on the new user's list with gets and cas (two; skipped when the
// record is filed under that user already), writes the record (one),
// writes the new user's list again (two), then takes the key off the old
// user's list when the filing moved or ended (gets, a get of the record,
// cas: three): more when concurrent filings of the same user collide.
// Each list update rewrites the whole list item: O(n) bytes for a user with
// n filed sessions.
//
// The key is listed before the record is written, so a record is never
// filed without being listed, even when a later step fails (the call then
// returns that error although the record was written). The second write
// of the list makes a UserKeys that read the list before the record write
// (and so pruned the entry, the record not being filed yet) lose its cas,
// or undoes its pruning. Taking the key off the old user's list is skipped
// when, read after the list, the record is filed under that user again (a
// later filing). When the record write fails (a conflict) the new entry
// stays (it may be a concurrent winner's too); UserKeys skips it unless the
// record is filed under the user, and prunes it. See the package
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
	err := s.do(ctx, boundAny, func() error {
		now := time.Now()
		item := &memcache.Item{
			Key:        s.prefix + key,
			Value:      encode(header{version: nv, expiry: expiry, filed: true, owner: owner}, data),
			Expiration: expiration(expiry, now),
		}
		var old header
		if version != 0 {
			cur, h, _, err := s.getAt(key, version, now)
			if err != nil {
				return err
			}
			old, item.CasID = h, cur.CasID
		}
		filed := user != "" && expiry.After(now) && until.After(now)
		// List the key before the record write: a record filed but not
		// listed would be missed by UserKeys for good.
		if filed && !(old.filed && old.owner == owner) {
			if err := s.updateList(ctx, owner, key, until.UnixNano(), false); err != nil {
				return fmt.Errorf("update the user's list: %w", err)
			}
		}
		var err error
		if version == 0 {
			err = s.create(item, now)
		} else {
			err = casResult(s.client.CompareAndSwap(item))
		}
		if err != nil {
			// The entry stays (it may be a concurrent winner's too):
			// UserKeys skips it unless the record is filed under the
			// user, and prunes it.
			return err
		}
		// Write the list again: a UserKeys that read it before the record
		// write, and so found the record not filed yet, loses its pruning
		// cas to this write or is undone by it.
		if filed {
			if err := s.updateList(ctx, owner, key, until.UnixNano(), true); err != nil {
				return fmt.Errorf("update the user's list: %w", err)
			}
		}
		if old.filed && old.owner != ([ownerLen]byte{}) && (old.owner != owner || !filed) {
			if err := s.updateList(ctx, old.owner, key, 0, false); err != nil {
				return fmt.Errorf("update the previous user's list: %w", err)
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
// It reads the user's 16 list items (two round trips per server: see
// collectLists), drops the
// entries past their until, then reads every listed record (one round trip
// per server and per 500 keys) and drops the entries whose record is gone
// (deleted, expired, evicted) or filed under another user or none. It
// writes each list item it shortened back with one cas (one round trip
// each; skipped when another writer changed the item meanwhile, which
// prunes it in turn). Cost: O(n) for n listed sessions, in bytes read and
// records fetched.
//
// The lists and the records are read one after the other, not at one
// instant, so when a record is found gone that an earlier reading had not
// found gone, UserKeys reads the lists again: a renew lists a session's new
// key before it ends the old one, so the new key is listed by then. It
// stops after a reading that finds no newly gone record; under churn that
// lasts 16 readings it returns the last reading's live keys together with
// those it found newly gone (ended moments ago: the core, finding them
// ended, lists again).
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sessionkit: memcache: user-keys: %w", err)
	}
	if user == "" {
		return nil, nil
	}
	owner := sha256.Sum256([]byte(user))
	var keys []string // written by the call: read only on success
	err := s.do(ctx, boundAny, func() error {
		dead := make(map[[32]byte]bool)
		for pass := 1; ; pass++ {
			live, freshGone, fresh, err := s.listPass(owner, dead)
			if err != nil {
				return err
			}
			// An empty reading after this call saw entries end may have
			// missed their successors (filed while the lists were read):
			// read again.
			if len(live) == 0 && len(dead) > 0 && pass < userKeysPasses && ctx.Err() == nil {
				continue
			}
			if !fresh || pass == userKeysPasses || ctx.Err() != nil {
				// Still churning: the records found gone in this reading
				// ended moments ago; listing them makes the caller
				// (the core) list again.
				for _, e := range append(live, freshGone...) {
					keys = append(keys, hex.EncodeToString(e.key[:]))
				}
				return nil
			}
		}
	})
	if err != nil {
		return nil, s.wrap("user-keys", s.listKey(owner, 0), err)
	}
	return keys, nil
}

// listPass reads owner's lists and their records once, writes back the
// items it pruned, and returns the live entries filed under owner. The
// entries found with their record gone or filed elsewhere that dead did
// not hold yet are added to it and reported by fresh; freshGone has those
// whose record is gone.
func (s *Store) listPass(owner [ownerLen]byte, dead map[[32]byte]bool) (live, freshGone []listEntry, fresh bool, err error) {
	ids := make([]string, listBuckets)
	for b := range ids {
		ids[b] = s.listKey(owner, b)
	}
	items, consistent, err := s.collectLists(ids)
	if err != nil {
		return nil, nil, false, err
	}
	// A reading that never settled may hold one list from before a renew
	// filed the new key and another from after it ended the old one:
	// neither key. It counts as churn, so UserKeys reads again.
	fresh = !consistent
	now := time.Now()
	lists := make(map[string][]listEntry, len(items))
	var current []listEntry
	for id, item := range items {
		entries := decodeList(item.Value)
		lists[id] = entries
		for _, e := range entries {
			if e.until > now.UnixNano() {
				current = append(current, e)
			}
		}
	}
	live, gone, err := s.keepFiled(current, owner, now)
	if err != nil {
		return nil, nil, false, err
	}
	keep := make(map[[32]byte]bool, len(live))
	for _, e := range live {
		keep[e.key] = true
	}
	for id, entries := range lists {
		kept := slices.DeleteFunc(slices.Clone(entries), func(e listEntry) bool {
			if keep[e.key] {
				return false
			}
			if e.until > now.UnixNano() && !dead[e.key] {
				dead[e.key], fresh = true, true
				if gone[e.key] {
					freshGone = append(freshGone, e)
				}
			}
			return true
		})
		if len(kept) != len(entries) {
			writeBack(s.client, items[id], kept, now)
		}
	}
	return live, freshGone, fresh, nil
}

// keepFiled returns the entries whose record is live and filed under owner
// (or of unknown filing), and the keys whose record is gone.
func (s *Store) keepFiled(entries []listEntry, owner [ownerLen]byte, now time.Time) (kept []listEntry, gone map[[32]byte]bool, err error) {
	gone = make(map[[32]byte]bool)
	for chunk := range slices.Chunk(entries, multiGetBatch) {
		ids := make([]string, len(chunk))
		for i, e := range chunk {
			ids[i] = s.prefix + hex.EncodeToString(e.key[:])
		}
		items, err := s.client.GetMulti(ids)
		if err != nil {
			return nil, nil, err
		}
		for i, e := range chunk {
			item, ok := items[ids[i]]
			if !ok {
				gone[e.key] = true
				continue
			}
			h, _, err := decode(item.Value)
			switch {
			case err != nil || !h.live(now):
				gone[e.key] = true
			case !h.filed || h.owner == owner:
				kept = append(kept, e)
			}
		}
	}
	return kept, gone, nil
}

// collectLists reads the list items ids, twice, until two readings in a
// row find every item with the same CAS id (or missing in both): the
// items read then were all current at one instant between the two
// readings, which one multi-get over several items and servers does not
// promise. After listBuckets tries it settles for the last reading and
// reports it as not consistent.
func (s *Store) collectLists(ids []string) (items map[string]*memcache.Item, consistent bool, err error) {
	prev, err := s.client.GetMulti(ids)
	if err != nil {
		return nil, false, err
	}
	for range listBuckets {
		cur, err := s.client.GetMulti(ids)
		if err != nil {
			return nil, false, err
		}
		same := len(cur) == len(prev)
		for id, item := range cur {
			if p, ok := prev[id]; !ok || p.CasID != item.CasID {
				same = false
				break
			}
		}
		if same {
			return cur, true, nil
		}
		prev = cur
	}
	return prev, false, nil
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
// cas (add for a missing list), retrying while other writers win. With
// prune it also checks the records of up to pruneSample other entries (one
// more round trip) and drops those whose record is gone: logged-out and
// expired sessions leave the list before their until. A filing in progress
// whose entry it drops (listed, record not written yet) lists it again
// after its record write.
func (s *Store) updateList(ctx context.Context, owner [ownerLen]byte, key string, until int64, prune bool) error {
	var k [32]byte
	if _, err := hex.Decode(k[:], []byte(key)); err != nil {
		return err
	}
	id := s.listKey(owner, int(k[0]>>4))
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
		if until == 0 && cur != nil {
			// Taking the key off: not if the record is filed under owner
			// again by now (a later filing listed it). Read after the list,
			// so a filing that lists it later makes the cas below fail.
			if again, err := s.filedUnder(key, owner); err != nil || again {
				return err
			}
		}
		now := time.Now()
		entries = slices.DeleteFunc(entries, func(e listEntry) bool { return e.key == k || e.until <= now.UnixNano() })
		if prune {
			if entries, err = s.pruneSampled(entries, now); err != nil {
				return err
			}
		}
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

// pruneSample is how many entries a filing checks for a gone record.
const pruneSample = 4

// pruneSampled checks the records of up to pruneSample random entries and
// returns entries without those whose record is gone.
func (s *Store) pruneSampled(entries []listEntry, now time.Time) ([]listEntry, error) {
	if len(entries) == 0 {
		return entries, nil
	}
	ids := make([]string, 0, pruneSample)
	for _, i := range rand.Perm(len(entries))[:min(pruneSample, len(entries))] {
		ids = append(ids, s.prefix+hex.EncodeToString(entries[i].key[:]))
	}
	items, err := s.client.GetMulti(ids)
	if err != nil {
		return nil, err
	}
	gone := make(map[[32]byte]bool, len(ids))
	for _, id := range ids {
		item, ok := items[id]
		if ok {
			if h, _, err := decode(item.Value); err == nil && h.live(now) {
				continue
			}
		}
		var k [32]byte
		if _, err := hex.Decode(k[:], []byte(id[len(s.prefix):])); err == nil {
			gone[k] = true
		}
	}
	return slices.DeleteFunc(entries, func(e listEntry) bool { return gone[e.key] }), nil
}

// filedUnder reports whether the live record under key is filed under
// owner.
func (s *Store) filedUnder(key string, owner [ownerLen]byte) (bool, error) {
	item, err := s.client.Get(s.prefix + key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h, _, err := decode(item.Value)
	return err == nil && h.live(time.Now()) && h.filed && h.owner == owner, nil
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

// listKey names owner's list item for the keys whose first hex digit is
// bucket.
func (s *Store) listKey(owner [ownerLen]byte, bucket int) string {
	return s.prefix + "user:" + base64.RawURLEncoding.EncodeToString(owner[:]) + "." + strconv.FormatInt(int64(bucket), 16)
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
