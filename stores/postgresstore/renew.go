package postgresstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/core"
)

// renewQueries returns the two statements of Renew on the quoted table t:
// retire, which replaces the old row by the retired marker, and drop,
// which deletes it. Both are one statement of data-modifying CTEs, so one
// round trip and one transaction:
//
//   - old locks the old row (FOR UPDATE) if it is live at the loaded
//     version. Under READ COMMITTED a row that a concurrent writer holds
//     is waited for and then checked again in its committed state, so a
//     concurrent renew, compare-and-swap or delete of it that committed
//     first leaves old empty; and once old holds the lock, nothing else
//     can change the row until this statement ends.
//   - ins creates the successor only if old found the row, as the
//     compare-and-swap insert does: ON CONFLICT replaces only an expired
//     row, so a live row under the new key leaves ins empty.
//   - ret retires (or deletes) the locked old row only if ins wrote the
//     successor.
//
// The statement thus changes both rows or neither, and returns the
// successor's version, or no row on a conflict. The parameters: $1 the
// old key, $2 its version, $3 now, $4 the new key, $5 its data, $6 its
// expiry, $7 its first version, $8 and $9 its filing (user_hash and
// user_until, NULL for no user), and for retire $10 and $11 the marker's
// data and expiry.
func renewQueries(t string) (retire, drop string) {
	const with = `WITH old AS (
	SELECT key FROM %[1]s WHERE key = $1 AND version = $2 AND expiry > $3 FOR UPDATE
), ins AS (
	INSERT INTO %[1]s AS s (key, data, expiry, version, user_hash, user_until)
	SELECT $4::text, $5::bytea, $6::timestamptz, $7::bigint, $8::text, $9::timestamptz
	WHERE EXISTS (SELECT FROM old)
	ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = s.version + 1,
	user_hash = excluded.user_hash, user_until = excluded.user_until
	WHERE s.expiry <= $3
	RETURNING version
), ret AS (
	%[2]s
)
SELECT version FROM ins`
	// The old row is the one old locked: key = $1 finds it, and its
	// version and expiry cannot have changed since.
	retire = fmt.Sprintf(with, t, `UPDATE `+t+` SET data = $10, expiry = $11, version = version + 1,
	user_hash = NULL, user_until = NULL
	WHERE key = $1 AND EXISTS (SELECT FROM ins)`)
	drop = fmt.Sprintf(with, t, `DELETE FROM `+t+` WHERE key = $1 AND EXISTS (SELECT FROM ins)`)
	return retire, drop
}

// Renew moves a session to a new key in one statement, and so one round
// trip and one transaction: it creates r.NewKey with r.Data until r.Expiry,
// filed under r.User until r.Until (no user when r.User is ""), and
// replaces the old row by r.Retired until r.RetiredExpiry, filed under no
// user, or deletes it when r.Retired is nil or r.RetiredExpiry is not in
// the future. It does so only if the old row is live at r.OldVersion and no
// live row exists under r.NewKey; otherwise it returns an error wrapping
// core.ErrConflict and changes nothing. It returns the new row's version.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	v, err := s.renew(ctx, &r)
	if err != nil {
		return 0, fmt.Errorf("sessionkit: postgres: renew: %w", err)
	}
	return v, nil
}

func (s *Store) renew(ctx context.Context, r *core.Renewal) (uint64, error) {
	if err := begin(ctx, r.OldKey); err != nil {
		return 0, err
	}
	if !core.ValidKey(r.NewKey) {
		return 0, core.ErrInvalidKey
	}
	if len(r.Data) > maxDataSize || len(r.Retired) > maxDataSize {
		return 0, core.ErrTooLarge
	}
	if r.OldVersion == 0 || r.OldVersion > math.MaxInt64 || r.OldKey == r.NewKey {
		return 0, core.ErrConflict // no live row has this version; the old row is live under the new key
	}
	f := newFiling(r.User, r.Until)
	now := time.Now()
	var row pgx.Row
	if r.Retired == nil || !r.RetiredExpiry.After(now) {
		row = s.pool.QueryRow(ctx, s.q.renewDrop, r.OldKey, int64(r.OldVersion), now,
			r.NewKey, nonNil(r.Data), r.Expiry, firstVersion(), f.hash, f.until)
	} else {
		row = s.pool.QueryRow(ctx, s.q.renewRetire, r.OldKey, int64(r.OldVersion), now,
			r.NewKey, nonNil(r.Data), r.Expiry, firstVersion(), f.hash, f.until, r.Retired, r.RetiredExpiry)
	}
	var v int64
	if err := row.Scan(&v); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, core.ErrConflict
		}
		return 0, err
	}
	return uint64(v), nil
}
