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
	for i := range s.shards {
		s.shards[i].m = make(map[id]entry)
	}
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
	sh := s.shardOf(k)
	sh.mu.RLock()
	e, ok := sh.m[k]
	if !ok || !e.live(now) {
		sh.mu.RUnlock()
		return core.Record{}, false, nil
	}
	var data []byte
	if len(e.data) > 0 {
		data = make([]byte, len(e.data))
		copy(data, e.data)
	}
	sh.mu.RUnlock()
	return core.Record{Data: data, Expiry: time.Unix(0, e.expiry), Version: e.version}, true, nil
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
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := time.Now().UnixNano()
	old, had := sh.m[k]
	if exp <= now {
		if had {
			s.unfile(k, old)
			delete(sh.m, k)
		}
		return nil
	}
	e := entry{data: fill(old.data, data), expiry: exp, version: s.version.Add(1)}
	if had && old.live(now) {
		e.user, e.until = old.user, old.until // Save keeps the filing
	} else if had {
		s.unfile(k, old) // a new record is filed under no user
	}
	sh.m[k] = e
	sh.peak = max(sh.peak, len(sh.m))
	return nil
}

// Delete removes the record stored under key, if any.
func (s *Store) Delete(ctx context.Context, key string) error {
	k, err := begin(ctx, "delete", key)
	if err != nil {
		return err
	}
	sh := s.shardOf(k)
	sh.mu.Lock()
	if e, ok := sh.m[k]; ok {
		s.unfile(k, e)
		delete(sh.m, k)
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
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := time.Now().UnixNano()
	e, ok := sh.m[k]
	switch {
	case !ok:
		return fmt.Errorf("sessionkit: memory: touch: %w", core.ErrNotFound)
	case !e.live(now):
		s.unfile(k, e)
		delete(sh.m, k)
		return fmt.Errorf("sessionkit: memory: touch: %w", core.ErrNotFound)
	case exp <= now:
		s.unfile(k, e)
		delete(sh.m, k)
	default:
		e.expiry = exp
		sh.m[k] = e
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
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := time.Now().UnixNano()
	old, ok := sh.m[k]
	live := ok && old.live(now)
	var current uint64
	if live {
		current = old.version
	}
	if current != version {
		return 0, fmt.Errorf("sessionkit: memory: %s: %w", op, core.ErrConflict)
	}
	v := s.version.Add(1)
	if exp <= now {
		if ok {
			s.unfile(k, old)
			delete(sh.m, k)
		}
		return v, nil
	}
	e := entry{data: fill(old.data, data), expiry: exp, version: v}
	switch {
	case !setUser && live:
		e.user, e.until = old.user, old.until // CompareAndSwap keeps the filing
	case !setUser:
		s.unfile(k, old) // a new record is filed under no user
	default:
		if u := unixNano(until); user != "" && u > now {
			e.user, e.until = user, u
		}
		if old.user != e.user {
			s.unfile(k, old)
		}
		if e.user != "" {
			s.users.add(e.user, k, e.until)
		}
	}
	sh.m[k] = e
	sh.peak = max(sh.peak, len(sh.m))
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
	for k, e := range sh.m {
		if e.live(now) {
			dst = append(dst, k)
		}
	}
	return dst
}

// DeleteExpired removes every expired record from memory and returns how
// many it removed. The sweeper calls it periodically. It works through
// each shard in batches of at most sweepBatch records per hold of the
// shard's write lock, so that requests to that shard wait for one batch,
// never for the whole shard; and it rebuilds a shard's map that has
// emptied to a small part of its peak, so that the memory a burst of
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

// shrinkBelow and shrinkMin decide when a sweep rebuilds a shard's map:
// when it holds less than 1/shrinkBelow of its peak, and the peak was at
// least shrinkMin records (smaller maps are not worth the copy).
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
	for k, e := range sh.m {
		if !e.live(now) {
			buf = append(buf, k)
		}
	}
	sh.mu.RUnlock()
	if afterScan != nil {
		afterScan()
	}
	n := 0
	for start := 0; start < len(buf); start += sweepBatch {
		batch := buf[start:min(start+sweepBatch, len(buf))]
		sh.mu.Lock()
		now := time.Now().UnixNano()
		for _, k := range batch {
			if e, ok := sh.m[k]; ok && !e.live(now) {
				s.unfile(k, e)
				delete(sh.m, k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	sh.shrink()
	return n, buf
}

// shrink rebuilds the map when it now holds less than 1/shrinkBelow of
// its peak. The rebuild copies the remaining records (fewer than a quarter
// of the peak) under the write lock.
func (sh *shard) shrink() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.peak < shrinkMin || len(sh.m)*shrinkBelow >= sh.peak {
		return
	}
	m := make(map[id]entry, len(sh.m))
	for k, e := range sh.m {
		m[k] = e
	}
	sh.m, sh.peak = m, len(m)
}

// Len returns the number of records held in memory, including expired ones
// that have not been swept yet.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
