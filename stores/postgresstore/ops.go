package postgresstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/core"
)

// maxDataSize is the largest value PostgreSQL keeps in one bytea field.
const maxDataSize = 1<<30 - 1

// pageSize is how many keys Iterate fetches per query, and how many rows
// DeleteExpired removes per statement.
const pageSize = 1000

// queries holds the store's SQL, built once by New so that the hot path
// formats nothing.
type queries struct {
	load, save, del, delLive, casInsert, casUpdate, liveExists, touch, iterate, deleteExpired string
	casInsertUser, casUpdateUser, userKeys                                                    string
	renewRetire, renewDrop                                                                    string
}

func buildQueries(t string) queries {
	q := queries{
		load: `SELECT data, expiry, version FROM ` + t + ` WHERE key = $1 AND expiry > $2`,
		// Save keeps the filing of a live row and drops that of an
		// expired one it replaces (a new record is filed under no user).
		save: `INSERT INTO ` + t + ` AS s (key, data, expiry, version) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = s.version + 1,
user_hash = CASE WHEN s.expiry > $5 THEN s.user_hash END, user_until = CASE WHEN s.expiry > $5 THEN s.user_until END`,
		del:     `DELETE FROM ` + t + ` WHERE key = $1`,
		delLive: `DELETE FROM ` + t + ` WHERE key = $1 AND version = $2 AND expiry > $3`,
		casInsert: `INSERT INTO ` + t + ` AS s (key, data, expiry, version) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = s.version + 1,
user_hash = NULL, user_until = NULL
WHERE s.expiry <= $5
RETURNING version`,
		casInsertUser: `INSERT INTO ` + t + ` AS s (key, data, expiry, version, user_hash, user_until) VALUES ($1, $2, $3, $4, $6, $7)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = s.version + 1,
user_hash = excluded.user_hash, user_until = excluded.user_until
WHERE s.expiry <= $5
RETURNING version`,
		casUpdate: `UPDATE ` + t + ` SET data = $3, expiry = $4, version = version + 1
WHERE key = $1 AND version = $2 AND expiry > $5
RETURNING version`,
		casUpdateUser: `UPDATE ` + t + ` SET data = $3, expiry = $4, version = version + 1, user_hash = $6, user_until = $7
WHERE key = $1 AND version = $2 AND expiry > $5
RETURNING version`,
		userKeys:   `SELECT key FROM ` + t + ` WHERE user_hash = $1 AND expiry > $2 AND user_until > $2`,
		liveExists: `SELECT EXISTS (SELECT 1 FROM ` + t + ` WHERE key = $1 AND expiry > $2)`,
		touch:      `UPDATE ` + t + ` SET expiry = $2 WHERE key = $1 AND expiry > $3`,
		iterate:    `SELECT key FROM ` + t + ` WHERE key > $1 AND expiry > $2 ORDER BY key LIMIT ` + fmt.Sprint(pageSize),
		deleteExpired: `DELETE FROM ` + t + ` WHERE key IN (SELECT key FROM ` + t + ` WHERE expiry <= $1 LIMIT ` +
			fmt.Sprint(pageSize) + ` FOR UPDATE SKIP LOCKED)`,
	}
	q.renewRetire, q.renewDrop = renewQueries(t)
	return q
}

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

// Load returns the live record stored under key in one query. An expired row
// is not found even before DeleteExpired removes it.
func (s *Store) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if err := begin(ctx, key); err != nil {
		return core.Record{}, false, fmt.Errorf("sessionkit: postgres: load: %w", err)
	}
	var (
		rec     core.Record
		version int64
	)
	err := s.pool.QueryRow(ctx, s.q.load, key, time.Now()).Scan(&rec.Data, &rec.Expiry, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return core.Record{}, false, nil
	}
	if err != nil {
		return core.Record{}, false, fmt.Errorf("sessionkit: postgres: load: %w", err)
	}
	if rec.Data == nil {
		rec.Data = []byte{}
	}
	rec.Version = uint64(version)
	return rec, true, nil
}

// Save upserts data and expiry under key in one statement, giving the row a
// new version. An expiry that is not in the future deletes the row.
func (s *Store) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := s.save(ctx, key, data, expiry); err != nil {
		return fmt.Errorf("sessionkit: postgres: save: %w", err)
	}
	return nil
}

func (s *Store) save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := begin(ctx, key); err != nil {
		return err
	}
	if len(data) > maxDataSize {
		return core.ErrTooLarge
	}
	if !expiry.After(time.Now()) {
		_, err := s.pool.Exec(ctx, s.q.del, key)
		return err
	}
	_, err := s.pool.Exec(ctx, s.q.save, key, nonNil(data), expiry, firstVersion(), time.Now())
	return err
}

// CompareAndSwap writes data under key if the row's version equals version
// (zero: if no live row exists) and returns the new version, in one
// statement: an INSERT ... ON CONFLICT that only overwrites an expired row
// for version zero, otherwise an UPDATE ... WHERE version = $n. When no row
// qualifies it returns an error wrapping core.ErrConflict. An expiry that is
// not in the future deletes the row (if the version matches).
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	v, err := s.compareAndSwap(ctx, key, version, data, expiry, nil)
	if err != nil {
		return 0, fmt.Errorf("sessionkit: postgres: compare and swap: %w", err)
	}
	return v, nil
}

// compareAndSwap is CompareAndSwap, and with a non-nil f
// CompareAndSwapUser: the same statements, which also set the row's filing.
func (s *Store) compareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, f *filing) (uint64, error) {
	if err := begin(ctx, key); err != nil {
		return 0, err
	}
	if len(data) > maxDataSize {
		return 0, core.ErrTooLarge
	}
	if version > math.MaxInt64 {
		return 0, core.ErrConflict // no row ever has this version
	}
	now := time.Now()
	if !expiry.After(now) {
		return s.casDelete(ctx, key, int64(version), now)
	}
	var newVersion int64
	var err error
	switch {
	case version == 0 && f == nil:
		err = s.pool.QueryRow(ctx, s.q.casInsert, key, nonNil(data), expiry, firstVersion(), now).Scan(&newVersion)
	case version == 0:
		err = s.pool.QueryRow(ctx, s.q.casInsertUser, key, nonNil(data), expiry, firstVersion(), now, f.hash, f.until).Scan(&newVersion)
	case f == nil:
		err = s.pool.QueryRow(ctx, s.q.casUpdate, key, int64(version), nonNil(data), expiry, now).Scan(&newVersion)
	default:
		err = s.pool.QueryRow(ctx, s.q.casUpdateUser, key, int64(version), nonNil(data), expiry, now, f.hash, f.until).Scan(&newVersion)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, core.ErrConflict
	}
	if err != nil {
		return 0, err
	}
	return uint64(newVersion), nil
}

// casDelete is CompareAndSwap with an expiry in the past: it deletes the
// live row with the given version, or for version zero checks that there
// is no live row.
func (s *Store) casDelete(ctx context.Context, key string, version int64, now time.Time) (uint64, error) {
	if version == 0 {
		var live bool
		if err := s.pool.QueryRow(ctx, s.q.liveExists, key, now).Scan(&live); err != nil {
			return 0, err
		}
		if live {
			return 0, core.ErrConflict
		}
		return uint64(firstVersion()), nil
	}
	tag, err := s.pool.Exec(ctx, s.q.delLive, key, version, now)
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() == 0 {
		return 0, core.ErrConflict
	}
	return uint64(version) + 1, nil
}

// Touch sets the expiry of the live row under key without changing its data
// or version. A missing or expired row is left alone (an error wrapping
// core.ErrNotFound); an expiry that is not in the future deletes the row.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if err := begin(ctx, key); err != nil {
		return fmt.Errorf("sessionkit: postgres: touch: %w", err)
	}
	if now := time.Now(); expiry.After(now) {
		tag, err := s.pool.Exec(ctx, s.q.touch, key, expiry, now)
		if err != nil {
			return fmt.Errorf("sessionkit: postgres: touch: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("sessionkit: postgres: touch: %w", core.ErrNotFound)
		}
		return nil
	}
	if _, err := s.pool.Exec(ctx, s.q.del, key); err != nil {
		return fmt.Errorf("sessionkit: postgres: touch: %w", err)
	}
	return nil
}

// Delete removes the row under key. A missing row is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, key); err != nil {
		return fmt.Errorf("sessionkit: postgres: delete: %w", err)
	}
	if _, err := s.pool.Exec(ctx, s.q.del, key); err != nil {
		return fmt.Errorf("sessionkit: postgres: delete: %w", err)
	}
	return nil
}

// Iterate calls fn with the key of every live row, in key order, until fn
// returns false. It fetches keys a page at a time and holds no connection
// while fn runs, so fn may use the store even with a pool of one connection.
func (s *Store) Iterate(ctx context.Context, fn func(key string) bool) error {
	after := ""
	keys := make([]string, 0, pageSize)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sessionkit: postgres: iterate: %w", err)
		}
		rows, err := s.pool.Query(ctx, s.q.iterate, after, time.Now())
		if err == nil {
			keys, err = pgx.AppendRows(keys[:0], rows, pgx.RowTo[string])
		}
		if err != nil {
			return fmt.Errorf("sessionkit: postgres: iterate: %w", err)
		}
		for _, k := range keys {
			if !fn(k) {
				return nil
			}
		}
		if len(keys) < pageSize {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// DeleteExpired removes every expired row, a thousand per statement so that
// no statement holds many row locks for long, and returns how many it
// removed. Rows another cleaner is deleting at the same time are skipped.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	now := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("sessionkit: postgres: delete expired: %w", err)
		}
		tag, err := s.pool.Exec(ctx, s.q.deleteExpired, now)
		if err != nil {
			return n, fmt.Errorf("sessionkit: postgres: delete expired: %w", err)
		}
		n += int(tag.RowsAffected())
		if tag.RowsAffected() < pageSize {
			return n, nil
		}
	}
}

// firstVersion returns the version of a newly inserted row: random, so that a
// key deleted and created again never repeats a version a stale writer may
// hold, and below 2^62 so that increments never overflow a bigint.
func firstVersion() int64 { return rand.Int64N(1<<62) + 1 }

// nonNil returns data, or an empty slice for nil, because pgx sends a nil
// slice as NULL and the data column is NOT NULL.
func nonNil(data []byte) []byte {
	if data == nil {
		return []byte{}
	}
	return data
}
