package cookie

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/backoff"
)

var _ core.UserRevoker = (*ClientStore)(nil)

// userRevokedPrefix begins the record RevokeUser keeps for a user; see
// userRevocation for the rest.
const userRevokedPrefix = "user-revoked:"

// userRevocation is what the revocation list keeps for a user whose
// sessions Manager.EndUserSessions ended: a session filed under the user
// at since (core.Session.SetUser) is revoked when since is not after at,
// except the session whose public id is keep (when keep is not ""), which
// is revoked when since is not after keepAt. Together these are exactly
// the union of every RevokeUser call so far, however many and in
// whatever order (see merge), so that a later call never brings back a
// session an earlier one ended, not even the one it keeps.
type userRevocation struct {
	at, keepAt int64 // Unix nanoseconds; math.MinInt64 revokes nothing
	keep       string
}

// noRevocation is the state of a user with no record.
var noRevocation = userRevocation{at: math.MinInt64, keepAt: math.MinInt64}

// revokes reports whether r revokes the session with public id id filed
// under the user at since.
func (r userRevocation) revokes(id string, since int64) bool {
	if r.keep != "" && id == r.keep {
		return since <= r.keepAt
	}
	return since <= r.at
}

// merge returns the revocation that revokes what r or a new call (at,
// keep) revokes. Every id but keep and r.keep is revoked up to the later
// of the two times, keep up to r's threshold for it and r.keep up to the
// later of its own threshold and at; one of the two always ends up with
// the common threshold, so one exception suffices.
func (r userRevocation) merge(at int64, keep string) userRevocation {
	switch {
	case keep == r.keep:
		return userRevocation{at: max(r.at, at), keepAt: r.keepAt, keep: keep}
	case at >= r.at:
		// r.keep is revoked up to at like everyone else; keep up to r.at
		// (r.keep is not keep, so r revoked keep up to r.at).
		return userRevocation{at: at, keepAt: r.at, keep: keep}
	default:
		// at < r.at: keep is revoked up to r.at like everyone else;
		// r.keep up to the later of its own threshold and at.
		return userRevocation{at: r.at, keepAt: max(r.keepAt, at), keep: r.keep}
	}
}

func (r userRevocation) encode() []byte {
	b := make([]byte, 0, len(userRevokedPrefix)+16+len(r.keep))
	b = append(b, userRevokedPrefix...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.at))
	b = binary.BigEndian.AppendUint64(b, uint64(r.keepAt))
	return append(b, r.keep...)
}

func decodeUserRevocation(b []byte) (userRevocation, error) {
	if len(b) < len(userRevokedPrefix)+16 || string(b[:len(userRevokedPrefix)]) != userRevokedPrefix {
		return userRevocation{}, fmt.Errorf("malformed user revocation: %w", core.ErrCorrupt)
	}
	b = b[len(userRevokedPrefix):]
	return userRevocation{
		at:     int64(binary.BigEndian.Uint64(b)),
		keepAt: int64(binary.BigEndian.Uint64(b[8:])),
		keep:   string(b[16:]),
	}, nil
}

// userRevocationKey returns the revocation-list key of user's sessions
// sealed under name: the SHA-256, in hexadecimal (a valid store key), of
// both, so the list never holds a user id and the entries of the session
// ids (core.StoreKey) never collide with it.
func userRevocationKey(name, user string) string {
	h := sha256.New()
	h.Write([]byte("sessionkit/cookie/user-revocation\x00"))
	h.Write(binary.AppendUvarint(nil, uint64(len(name))))
	h.Write([]byte(name))
	h.Write([]byte(user))
	return hex.EncodeToString(h.Sum(nil))
}

// RevokeUser implements core.UserRevoker, which Manager.EndUserSessions
// calls: every session sealed under name that was filed under user
// (core.Session.SetUser) at or before at stops opening, except the
// session whose public id is keepID ("" keeps none). It needs
// Config.Revocations; without, it returns an error wrapping
// core.ErrNotSupported.
//
// It keeps one record per user in the list, under a key hashed from name
// and user, until the later of until and the previous record's deadline:
// a read and a write (a compare-and-swap, retried on conflict after a
// jittered backoff that grows with each conflict and ends with ctx, when
// the list implements core.CompareAndSwapper; on a list without it two
// concurrent calls for one user may keep only one of them). A later call
// adds to the earlier ones rather than replacing them: a session an
// earlier call ended stays ended even when a later call names it as the
// one to keep.
func (s *ClientStore) RevokeUser(ctx context.Context, name, user, keepID string, at, until time.Time) error {
	if s.revoked == nil {
		return fmt.Errorf("sessionkit: cookie: revoke user: %w: no revocation list (Config.Revocations)", core.ErrNotSupported)
	}
	if user == "" {
		return nil
	}
	key := userRevocationKey(name, user)
	cas, _ := s.revoked.(core.CompareAndSwapper)
	// fail is the error of an attempt that failed with err after
	// conflicts lost ones.
	fail := func(conflicts int, err error) error {
		return fmt.Errorf("sessionkit: cookie: revoke user: %w", backoff.AfterConflicts(ctx, core.ErrConflict, conflicts, err))
	}
	for attempt := 1; ; attempt++ {
		rec, found, err := s.revoked.Load(ctx, key)
		if err != nil {
			return fail(attempt-1, err)
		}
		r, expiry := noRevocation, until
		if found {
			if r, err = decodeUserRevocation(rec.Data); err != nil {
				// Unreadable: start again from this call (it revokes
				// at least what it is asked to).
				r = noRevocation
			}
			if rec.Expiry.After(expiry) {
				expiry = rec.Expiry
			}
		}
		data := r.merge(unixNano(at), keepID).encode()
		if cas == nil {
			err = s.revoked.Save(ctx, key, data, expiry)
		} else {
			_, err = cas.CompareAndSwap(ctx, key, rec.Version, data, expiry)
			if errors.Is(err, core.ErrConflict) {
				if err := backoff.Wait(ctx, attempt); err != nil {
					return fail(attempt, err)
				}
				continue
			}
		}
		if err != nil {
			return fail(attempt-1, err)
		}
		return nil
	}
}

// UserRevoked implements core.UserRevoker: the core asks it on every Open
// of a session filed under a user, which costs one Load of the revocation
// list (sessions without a user cost nothing). It reports whether
// RevokeUser ended the session with public id id, filed under user at
// since. Without Config.Revocations it reports false.
func (s *ClientStore) UserRevoked(ctx context.Context, name, user, id string, since time.Time) (bool, error) {
	if s.revoked == nil || user == "" {
		return false, nil
	}
	rec, found, err := s.revoked.Load(ctx, userRevocationKey(name, user))
	if err != nil {
		return false, fmt.Errorf("sessionkit: cookie: revocation list: %w", err)
	}
	if !found {
		return false, nil
	}
	r, err := decodeUserRevocation(rec.Data)
	if err != nil {
		return false, fmt.Errorf("sessionkit: cookie: revocation list: %w", err)
	}
	return r.revokes(id, unixNano(since)), nil
}
