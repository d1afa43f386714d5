package sqlstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// begin validates the common arguments of every keyed operation.
func begin(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !core.ValidKey(key) {
		return core.ErrInvalidKey
	}
	return nil
}

// Load returns the live record stored under key in one query. An expired
// row is not found even before DeleteExpired removes it.
func (s *Store) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if err := begin(ctx, key); err != nil {
		return core.Record{}, false, s.wrap("load", err)
	}
	var (
		rec             core.Record
		expiry, version int64
	)
	found, err := s.queryRow(ctx, qLoad, &args{key: key, now: time.Now().UnixMicro()}, &rec.Data, &expiry, &version)
	if err != nil {
		if strings.HasPrefix(err.Error(), "sql: Scan error") {
			// A column holds what this store never writes there (SQLite's
			// columns take a value of any type: a text expiry written by
			// another program): a record it cannot read back.
			err = fmt.Errorf("%w: %w", core.ErrCorrupt, err)
		}
		return core.Record{}, false, s.wrap("load", err)
	}
	if !found {
		return core.Record{}, false, nil
	}
	if rec.Data == nil {
		rec.Data = []byte{}
	}
	rec.Expiry = time.UnixMicro(expiry)
	rec.Version = uint64(version)
	return rec, true, nil
}

// Save upserts data and expiry under key in one statement, giving the row
// a new version. An expiry that is not in the future deletes the row.
func (s *Store) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := s.save(ctx, key, data, expiry); err != nil {
		return s.wrapWrite(ctx, "save", sent(data, expiry), err)
	}
	return nil
}

func (s *Store) save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := begin(ctx, key); err != nil {
		return err
	}
	if len(data) > s.cfg.MaxDataSize {
		return core.ErrTooLarge
	}
	if !expiry.After(time.Now()) {
		_, err := s.exec(ctx, qDelete, &args{key: key})
		return err
	}
	_, err := s.exec(ctx, qSave, &args{key: key, data: nonNil(data), expiry: micros(expiry), version: firstVersion(), now: time.Now().UnixMicro()})
	return err
}

// CompareAndSwap writes data under key if the row's version equals version
// (zero: if no live row exists) and returns the new version, in one
// statement: an insert that replaces only an expired row for version zero,
// otherwise an UPDATE ... WHERE version = ?. When no row qualifies it
// returns an error wrapping core.ErrConflict. An expiry that is not in the
// future deletes the row (if the version matches).
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	v, err := s.compareAndSwap(ctx, key, version, data, expiry, nil)
	if err != nil {
		return 0, s.wrapWrite(ctx, "compare and swap", sent(data, expiry), err)
	}
	return v, nil
}

// compareAndSwap is CompareAndSwap, and with a non-nil f
// CompareAndSwapUser: the same statements, which also set the user columns.
func (s *Store) compareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, f *filing) (uint64, error) {
	if err := begin(ctx, key); err != nil {
		return 0, err
	}
	if len(data) > s.cfg.MaxDataSize {
		return 0, core.ErrTooLarge
	}
	if version >= math.MaxInt64 {
		return 0, core.ErrConflict // no row ever has this version
	}
	now := time.Now()
	a := &args{key: key, data: nonNil(data), expiry: micros(expiry), version: int64(version), now: now.UnixMicro()}
	if !expiry.After(now) {
		return s.casDelete(ctx, a)
	}
	insert, update := qCASInsert, qCASUpdate
	if f != nil {
		insert, update = qCASInsertUser, qCASUpdateUser
		a.user, a.until = f.user, f.until
	}
	if version == 0 {
		a.version = firstVersion()
		res, err := s.exec(ctx, insert, a)
		if err != nil {
			return 0, err
		}
		won, err := s.d.InsertWon(res)
		if err != nil {
			return 0, err
		}
		if !won {
			return 0, core.ErrConflict
		}
		return uint64(a.version), nil
	}
	a.newVersion = a.version + 1
	if err := s.execWon(ctx, update, a); err != nil {
		return 0, err
	}
	return uint64(a.newVersion), nil
}

// casDelete is CompareAndSwap with an expiry in the past: it deletes the
// live row with the given version, or for version zero checks that there
// is no live row.
func (s *Store) casDelete(ctx context.Context, a *args) (uint64, error) {
	if a.version == 0 {
		var live int64
		found, err := s.queryRow(ctx, qLiveExists, a, &live)
		if err != nil {
			return 0, err
		}
		if found && live != 0 {
			return 0, core.ErrConflict
		}
		return uint64(firstVersion()), nil
	}
	if err := s.execWon(ctx, qDeleteLive, a); err != nil {
		return 0, err
	}
	return uint64(a.version) + 1, nil
}

// Touch sets the expiry of the live row under key without changing its
// data or version. A missing or expired row is left alone (an error
// wrapping core.ErrNotFound); an expiry that is not in the future deletes
// the row.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if err := s.touch(ctx, key, expiry); err != nil {
		return s.wrap("touch", err)
	}
	return nil
}

func (s *Store) touch(ctx context.Context, key string, expiry time.Time) error {
	if err := begin(ctx, key); err != nil {
		return err
	}
	now := time.Now()
	if !expiry.After(now) {
		_, err := s.exec(ctx, qDelete, &args{key: key})
		return err
	}
	res, err := s.exec(ctx, qTouch, &args{key: key, expiry: micros(expiry), now: now.UnixMicro()})
	if err != nil {
		return err
	}
	found, err := s.d.TouchFound(res)
	if err != nil {
		return err
	}
	if !found {
		return core.ErrNotFound
	}
	return nil
}

// Delete removes the row under key. A missing row is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, key); err != nil {
		return s.wrap("delete", err)
	}
	if _, err := s.exec(ctx, qDelete, &args{key: key}); err != nil {
		return s.wrap("delete", err)
	}
	return nil
}

// Iterate calls fn with the key of every live row, in key order, until fn
// returns false. It fetches keys a page at a time and holds no connection
// while fn runs, so fn may use the store even with a pool of one
// connection.
func (s *Store) Iterate(ctx context.Context, fn func(key string) bool) error {
	a := &args{}
	keys := make([]string, 0, PageSize)
	for {
		if err := ctx.Err(); err != nil {
			return s.wrap("iterate", err)
		}
		a.now = time.Now().UnixMicro()
		var err error
		keys, err = s.keys(ctx, qIterate, a, keys[:0])
		if err != nil {
			return s.wrap("iterate", err)
		}
		for _, k := range keys {
			if !fn(k) {
				return nil
			}
		}
		if len(keys) < PageSize {
			return nil
		}
		a.after = keys[len(keys)-1]
	}
}

// DeleteExpired removes every expired row, at most PageSize per statement
// so that no statement holds many row locks for long, and returns how many
// it removed.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	a := &args{now: time.Now().UnixMicro()}
	for {
		if err := ctx.Err(); err != nil {
			return n, s.wrap("delete expired", err)
		}
		res, err := s.exec(ctx, qDeleteExpired, a)
		if err != nil {
			return n, s.wrap("delete expired", err)
		}
		m, err := res.RowsAffected()
		if err != nil {
			return n, s.wrap("delete expired", err)
		}
		n += int(m)
		if m < PageSize {
			return n, nil
		}
	}
}

// micros returns t as microseconds since the Unix epoch, rounded down
// (never up, so a stored expiry is never later than the one asked for).
func micros(t time.Time) int64 {
	us := t.UnixMicro()
	if time.UnixMicro(us).After(t) { // before 1970, UnixMicro rounds up
		us--
	}
	return us
}

// firstVersion returns the version of a newly inserted row: random, so that
// a key deleted and created again never repeats a version a stale writer
// may hold, and below 2^62 so that increments never overflow a BIGINT.
func firstVersion() int64 { return rand.Int64N(1<<62) + 1 }

// nonNil returns data, or an empty slice for nil: drivers send a nil slice
// as NULL and the data column is NOT NULL.
func nonNil(data []byte) []byte {
	if data == nil {
		return []byte{}
	}
	return data
}

// execWon runs query i, a conditional write, and returns an error wrapping
// core.ErrConflict when it changed no row.
func (s *Store) execWon(ctx context.Context, i queryID, a *args) error {
	res, err := s.exec(ctx, i, a)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return orConflict(err)
	}
	return nil
}
