package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// filing is the user columns' values for one CompareAndSwapUser: both nil
// (NULL) for no user.
type filing struct {
	user, until any
}

// newFiling returns the filing of a record under user until until.
func newFiling(user string, until time.Time) *filing {
	if user == "" {
		return &filing{}
	}
	return &filing{user: UserHash(user), until: micros(until)}
}

// UserHash returns what the store keeps in the user column for the user id
// user: the lowercase hexadecimal SHA-256 of its bytes. The table then
// holds no e-mail addresses or other user ids in the clear, every id
// indexes as 64 ASCII bytes whatever its length, and the column's
// collation (case-insensitive and space-padding in MySQL by default)
// cannot make two ids one. It is a pseudonym, not a secret: whoever can
// guess an id can hash it.
func UserHash(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:])
}

// CompareAndSwapUser is CompareAndSwap that also files the row under user
// (its UserHash and until in the user columns), or under no user when user
// is "" (both NULL), in the same single statement. An expiry that is not in
// the future deletes the row, and its filing with it.
func (s *Store) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	v, err := s.compareAndSwap(ctx, key, version, data, expiry, newFiling(user, until))
	if err != nil {
		return 0, s.wrapWrite(ctx, "compare and swap user", sent(data, expiry), err)
	}
	return v, nil
}

// UserKeys returns the keys of the live rows filed under user whose until
// has not passed, in one query on the user column's index. A user with no
// sessions, or "", has none: the result is then empty and the error nil.
// The order is unspecified.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.wrap("user keys", err)
	}
	if user == "" {
		return nil, nil
	}
	keys, err := s.keys(ctx, qUserKeys, &args{user: UserHash(user), now: time.Now().UnixMicro()}, nil)
	if err != nil {
		return nil, s.wrap("user keys", err)
	}
	return keys, nil
}
