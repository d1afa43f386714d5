package memory

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/janitor"
)

// Store is an in-memory core.Store with every optional capability. Create it
// with New; it is safe for concurrent use.
type Store struct {
	shards  [shardCount]shard
	users   userIndex     // user -> keys of the records filed under them
	version atomic.Uint64 // last version handed out; every write takes the next
	maxSize int

	sweeper *janitor.Janitor // nil when sweeping is disabled
}

// Compile-time checks that Store implements the whole contract.
var (
	_ core.Store             = (*Store)(nil)
	_ core.Toucher           = (*Store)(nil)
	_ core.CompareAndSwapper = (*Store)(nil)
	_ core.Iterator          = (*Store)(nil)
	_ core.ExpiredDeleter    = (*Store)(nil)
	_ core.UserIndexer       = (*Store)(nil)
)

// New returns an empty Store configured by cfg and, unless
// cfg.CleanupInterval is negative, starts its sweeper goroutine. Call Close
// when the store is no longer needed to stop that goroutine.
func New(cfg Config) *Store {
	cfg = cfg.normalise()
	s := &Store{maxSize: cfg.MaxRecordSize}
	s.sweeper = janitor.Start(cfg.CleanupInterval, func(ctx context.Context) error {
		_, err := s.DeleteExpired(ctx)
		return err
	}, nil) // DeleteExpired fails only when Close cancels it
	return s
}

// shardOf returns the shard that holds k.
func (s *Store) shardOf(k id) *shard { return &s.shards[k[0]%shardCount] }

// begin validates the common arguments of every keyed operation.
func begin(ctx context.Context, op, key string) (id, error) {
	if err := ctx.Err(); err != nil {
		return id{}, fmt.Errorf("sessionkit: memory: %s: %w", op, err)
	}
	k, ok := parseKey(key)
	if !ok {
		return id{}, fmt.Errorf("sessionkit: memory: %s: %w", op, core.ErrInvalidKey)
	}
	return k, nil
}

// checkSize rejects data larger than the configured limit.
func (s *Store) checkSize(op string, data []byte) error {
	if s.maxSize > 0 && len(data) > s.maxSize {
		return fmt.Errorf("sessionkit: memory: %s: %d bytes exceed the limit of %d: %w",
			op, len(data), s.maxSize, core.ErrTooLarge)
	}
	return nil
}

// Load returns a copy of the live record stored under key. A missing or
// expired record returns found == false and a nil error.
func (s *Store) Load(ctx context.Context, key string) (core.Record, bool, error) {
	k, err := begin(ctx, "load", key)
	if err != nil {
		return core.Record{}, false, err
	}
	now := time.Now().UnixNano()
	h := hashKey(&k)
	sh := s.shardOf(k)
	sh.mu.RLock()
	_, p := sh.find(&k, h)
	if p < 0 || !sh.at(p).live(now) {
		sh.mu.RUnlock()
		return core.Record{}, false, nil
	}
	e := &sh.at(p).entry
	var data []byte
	if len(e.data) > 0 {
		data = make([]byte, len(e.data))
		copy(data, e.data)
	}
	expiry, version := e.expiry, e.version
	sh.mu.RUnlock()
	return core.Record{Data: data, Expiry: time.Unix(0, expiry), Version: version}, true, nil
}

// Save stores a copy of data under key until expiry, replacing any previous
// record and giving it a new version. An expiry that is not in the future
// deletes the record.
func (s *Store) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	k, err := begin(ctx, "save", key)
	if err != nil {
		return err
	}
	if err := s.checkSize("save", data); err != nil {
		return err
	}
	exp := unixNano(expiry)
	h := hashKey(&k)
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := time.Now().UnixNano()
	slot, p := sh.find(&k, h)
	switch {
	case exp <= now:
		if p >= 0 {
			s.unfile(k, sh.at(p).filed)
			sh.remove(slot, p)
		}
	case p < 0:
		sh.add(&k, h, entry{data: fill(nil, data), expiry: exp, version: s.version.Add(1)})
	default:
		old := &sh.at(p).entry
		if !old.live(now) {
			s.unfile(k, old.filed) // a new record is filed under no user
			old.filed = nil
		} // else Save keeps the filing
		old.data, old.expiry, old.version = fill(old.data, data), exp, s.version.Add(1)
	}
	return nil
}

// Delete removes the record stored under key, if any.
func (s *Store) Delete(ctx context.Context, key string) error {
	k, err := begin(ctx, "delete", key)
	if err != nil {
		return err
	}
	h := hashKey(&k)
	sh := s.shardOf(k)
	sh.mu.Lock()
	if slot, p := sh.find(&k, h); p >= 0 {
		s.unfile(k, sh.at(p).filed)
		sh.remove(slot, p)
	}
	sh.mu.Unlock()
	return nil
}

// Touch sets the expiry of the live record under key without changing its
// data or its version, so that it does not make a concurrent
// CompareAndSwap fail. A missing or expired record is left alone (an error
// wrapping core.ErrNotFound); an expiry that is not in the future deletes
// the record.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	k, err := begin(ctx, "touch", key)
	if err != nil {
		return err
	}
	exp := unixNano(expiry)
	h := hashKey(&k)
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := time.Now().UnixNano()
	slot, p := sh.find(&k, h)
	if p < 0 {
		return fmt.Errorf("sessionkit: memory: touch: %w", core.ErrNotFound)
	}
	e := &sh.at(p).entry
	switch {
	case !e.live(now):
		s.unfile(k, e.filed)
		sh.remove(slot, p)
		return fmt.Errorf("sessionkit: memory: touch: %w", core.ErrNotFound)
	case exp <= now:
		s.unfile(k, e.filed)
		sh.remove(slot, p)
	default:
		e.expiry = exp
	}
	return nil
}

// CompareAndSwap stores a copy of data under key until expiry if the live
// record's version equals version (zero: if there is no live record), and
// returns the new version. Otherwise it returns an error wrapping
// core.ErrConflict and changes nothing. A successful swap with an expiry
// that is not in the future deletes the record.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	return s.swap(ctx, "compare and swap", key, version, data, expiry, false, "", time.Time{})
}

// swap is CompareAndSwap and, with setUser, CompareAndSwapUser.
func (s *Store) swap(ctx context.Context, op, key string, version uint64, data []byte, expiry time.Time, setUser bool, user string, until time.Time) (uint64, error) {
	k, err := begin(ctx, op, key)
	if err != nil {
		return 0, err
	}
	if err := s.checkSize(op, data); err != nil {
		return 0, err
	}
	exp := unixNano(expiry)
	h := hashKey(&k)
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := time.Now().UnixNano()
	slot, p := sh.find(&k, h)
	var old entry
	if p >= 0 {
		old = sh.at(p).entry
	}
	live := p >= 0 && old.live(now)
	var current uint64
	if live {
		current = old.version
	}
	if current != version {
		return 0, fmt.Errorf("sessionkit: memory: %s: %w", op, core.ErrConflict)
	}
	v := s.version.Add(1)
	if exp <= now {
		if p >= 0 {
			s.unfile(k, old.filed)
			sh.remove(slot, p)
		}
		return v, nil
	}
	e := entry{data: fill(old.data, data), expiry: exp, version: v}
	switch {
	case !setUser && live:
		e.filed = old.filed // CompareAndSwap keeps the filing
	case !setUser:
		s.unfile(k, old.filed) // a new record is filed under no user
	default:
		u := unixNano(until)
		filed := user != "" && u > now
		if old.filed != nil && (!filed || old.filed.user != user) {
			s.unfile(k, old.filed)
		}
		if filed {
			e.filed = s.users.add(user, k, u)
		}
	}
	if p >= 0 {
		sh.at(p).entry = e
	} else {
		sh.add(&k, h, e)
	}
	return v, nil
}

// Iterate calls fn with the key of every live record until fn returns false.
// It holds no lock while fn runs, so fn may call the store; records written
// during the iteration may or may not be seen.
func (s *Store) Iterate(ctx context.Context, fn func(key string) bool) error {
	var keys []id
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sessionkit: memory: iterate: %w", err)
		}
		keys = s.shards[i].liveKeys(keys[:0], time.Now().UnixNano())
		for _, k := range keys {
			if !fn(k.String()) {
				return nil
			}
		}
	}
	return nil
}

// liveKeys appends the keys of sh's live records to dst.
func (sh *shard) liveKeys(dst []id, now int64) []id {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.appendKeys(dst, func(e *entry) bool { return e.live(now) })
}

// DeleteExpired removes every expired record from memory and returns how
// many it removed. The sweeper calls it periodically. It works through
// each shard in batches of at most sweepBatch records per hold of the
// shard's write lock, so that requests to that shard wait for one batch,
// never for the whole shard; and it rebuilds a shard's table that has
// emptied to a small part of its room, so that the memory a burst of
// sessions took returns once they have expired.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	var expired []id
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("sessionkit: memory: delete expired: %w", err)
		}
		var d int
		d, expired = s.deleteExpired(&s.shards[i], expired[:0])
		n += d
	}
	s.users.sweep(time.Now().UnixNano())
	return n, nil
}

// sweepBatch is how many records a sweep removes per hold of a shard's
// write lock.
const sweepBatch = 512

// shrinkBelow decides when a sweep rebuilds a shard's table (see
// table.shrink): when it has more than shrinkBelow times the room its
// records need. shrinkMin is the same for the user index (see
// userIndex.sweep): it rebuilds a map that holds less than 1/shrinkBelow
// of its peak if the peak was at least shrinkMin users (smaller maps are
// not worth the copy).
const (
	shrinkBelow = 4
	shrinkMin   = 1024
)

// afterScan, when set by a test, runs between a sweep's scan of a shard
// and its deletions.
var afterScan func()

// deleteExpired removes sh's expired records, and their filings in the
// user index, and returns how many, using buf for the keys it collects. It
// finds them under the read lock, so that loads go on meanwhile, then
// deletes them in batches under the write lock, checking each again: a
// record rewritten since is kept.
func (s *Store) deleteExpired(sh *shard, buf []id) (int, []id) {
	sh.mu.RLock()
	now := time.Now().UnixNano()
	buf = sh.appendKeys(buf, func(e *entry) bool { return !e.live(now) })
	sh.mu.RUnlock()
	if afterScan != nil {
		afterScan()
	}
	n := 0
	for start := 0; start < len(buf); start += sweepBatch {
		batch := buf[start:min(start+sweepBatch, len(buf))]
		sh.mu.Lock()
		now := time.Now().UnixNano()
		for i := range batch {
			k := &batch[i]
			if slot, p := sh.find(k, hashKey(k)); p >= 0 && !sh.at(p).live(now) {
				s.unfile(*k, sh.at(p).filed)
				sh.remove(slot, p)
				n++
			}
		}
		sh.mu.Unlock()
	}
	sh.shrink()
	return n, buf
}

// shrink gives back the room sh's table no longer needs (see
// table.shrink), under the write lock.
func (sh *shard) shrink() {
	sh.mu.Lock()
	sh.table.shrink()
	sh.mu.Unlock()
}

// Len returns the number of records held in memory, including expired ones
// that have not been swept yet.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += sh.n
		sh.mu.RUnlock()
	}
	return n
}
