package postgresstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// filing is the user columns' values for one CompareAndSwapUser: both
// NULL (a nil any) for no user.
type filing struct {
	hash, until any
}

// newFiling returns the filing of a record under user until until.
func newFiling(user string, until time.Time) *filing {
	if user == "" {
		return &filing{}
	}
	return &filing{hash: userHash(user), until: until}
}

// userHash returns what the store keeps in the user_hash column for the
// user id user: the lowercase hexadecimal SHA-256 of its bytes, so that the
// table holds no e-mail addresses or other identifying user ids in the
// clear, and every id, whatever its length or characters, indexes as 64
// bytes. It is a pseudonym, not a secret: anyone who can guess an id can
// compute its hash, as SQL can:
//
//	SELECT key FROM sessionkit_sessions
//	WHERE user_hash = encode(sha256(convert_to('alice@example.com', 'UTF8')), 'hex')
func userHash(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:])
}

// CompareAndSwapUser is CompareAndSwap that also files the row under user
// (the SHA-256 of user in the user_hash column, until in user_until), or under no
// user when user is "" (both NULL), in the same single statement. Where the
// version matches, the row's data, expiry, version and filing change
// together or not at all. An expiry that is not in the future deletes the
// row, and its filing with it.
func (s *Store) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	v, err := s.compareAndSwap(ctx, key, version, data, expiry, newFiling(user, until))
	if err != nil {
		return 0, fmt.Errorf("sessionkit: postgres: compare and swap user: %w", err)
	}
	return v, nil
}

// UserKeys returns the keys of the live rows filed under user whose until
// has not passed, in one query on the partial index of user_hash. A user
// with no sessions, or "", has none: the result is then empty and the error
// nil. The order is unspecified.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sessionkit: postgres: user keys: %w", err)
	}
	if user == "" {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, s.q.userKeys, userHash(user), time.Now())
	if err != nil {
		return nil, fmt.Errorf("sessionkit: postgres: user keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("sessionkit: postgres: user keys: %w", err)
	}
	return keys, nil
}
