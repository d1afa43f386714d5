package memcachestore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/core"
)

// The store renews a session's key with core.Renewer.
var _ core.Renewer = (*Store)(nil)

// boundRenew is Renew's worst case in the client's Timeouts: a get of the
// old record when its CAS id is not remembered (4), the add and the cas
// sent at once (2), and when one of them fails, the old record's
// restoration (a get and a cas: 6) and the successor's delete (2).
const boundRenew = 4 + 2 + 2 + 6

// tombstoneSeconds is how long memcached keeps the tombstone of an old
// record that a renew deletes (see Renew): longer than the renew can take,
// undo included, so that the undo finds it (memcached may expire an item
// up to a second early).
func (s *Store) tombstoneSeconds() int32 {
	return int32((s.timeouts(boundRenew)+time.Second-1)/time.Second) + 2
}

// Renew implements core.Renewer. memcached has no command over two keys,
// so the store sends the two writes of a renew at once, on two
// connections: an add of the successor r.NewKey and a cas of the old item
// (at the CAS id that Load remembered) to the retired marker or, when the
// old record is to be deleted, to a tombstone (a header that has expired,
// which memcached keeps a few seconds). A renew through the core (a login)
// then costs two round trips in all, the load and these two writes,
// instead of three.
//
// The two writes are not one atomic step, so the store undoes whichever
// went through when the other did not:
//
//   - The old record had changed, been deleted or expired (the cas lost):
//     the successor is deleted again and Renew returns an error wrapping
//     core.ErrConflict. Nobody can have used the successor's key, which
//     the client has not been sent yet.
//   - The successor's add failed (a live record holds r.NewKey, or its
//     server did not answer) after the retirement went through: the old
//     record is put back, with its data (r.OldData), version, expiry and
//     filing, unless something other than this renew's marker holds its
//     key by then (a logout deleted it meanwhile, say). Meanwhile a
//     request that loaded the old key saw the marker, as it would have
//     after a successful renew.
//
// Only when that restoration fails as well (both servers in trouble) is
// the pre-login session lost; Renew then says so in its error. A cas or
// an add whose answer never came may or may not have been applied, and
// may still arrive: the undo treats it as applied, and when the old record
// is still there, rewrites it unchanged so that a cas arriving late fails
// on its CAS id. A command whose connection could not be made needs no
// undo. When ctx ends while the writes are under way, Renew returns ctx's
// error at once and undoes nothing, even when one of the writes then
// fails: the core, which reads both records after such an error, settles
// the renew (see core.Renewer; it takes the successor's key when only the
// retirement has landed). An undo here could race it, and take back a
// renew that the core has found done and whose new token it has sent.
//
// While a failed renew is being undone, a request that loads the old key
// finds the marker: it is treated as retired by a renew (with RenewGrace,
// its changes are dropped; a logout in that moment deletes nothing), and
// the session is back once the undo has finished.
//
// Renew reads the old record first (one round trip more) when this store
// does not remember its CAS id from a Load moments ago or r.OldData is
// nil. It declines with core.ErrNotSupported, having written nothing, a
// renew that files the successor under a user (r.User) or whose old
// record is filed under one: moving a session between user lists takes
// the list updates of CompareAndSwapUser, which the core's separate steps
// make.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	if !core.ValidKey(r.OldKey) || !core.ValidKey(r.NewKey) {
		return 0, fmt.Errorf("sessionkit: memcache: renew: %w", core.ErrInvalidKey)
	}
	if r.OldKey == r.NewKey {
		return 0, fmt.Errorf("sessionkit: memcache: renew: the new key is the old one: %w", core.ErrConflict)
	}
	for _, data := range [][]byte{r.Data, r.Retired} {
		if headerLen+len(data) > s.maxItem {
			return 0, fmt.Errorf("sessionkit: memcache: renew: %w: %d bytes, limit %d", core.ErrTooLarge, len(data), s.MaxRecordSize())
		}
	}
	if r.User != "" {
		return 0, fmt.Errorf("sessionkit: memcache: renew: filing under a user: %w", core.ErrNotSupported)
	}
	nv, mv := newVersion(), newVersion()
	err := s.do(ctx, boundRenew, func() error {
		now := time.Now()
		old, ok := s.renewSource(r, now)
		if !ok {
			var err error
			if old, err = s.loadForRenew(r, now); err != nil {
				return err
			}
		}
		if old.h.filed && old.h.owner != ([ownerLen]byte{}) {
			s.casIDs.remember(r.OldKey, old.h, old.casID) // unused: keep it for the core's swap
			return fmt.Errorf("the old record is filed under a user: %w", core.ErrNotSupported)
		}
		// Both records are filed under no user (see CompareAndSwapUser):
		// the successor's filing is known, and the old key leaves any
		// list that still names it.
		succ := &memcache.Item{
			Key:        s.prefix + r.NewKey,
			Value:      encode(header{version: nv, expiry: r.Expiry, filed: true}, r.Data),
			Expiration: expiration(r.Expiry, now),
		}
		marker := &memcache.Item{
			Key:        s.prefix + r.OldKey,
			Value:      encode(header{version: mv, expiry: r.RetiredExpiry, filed: true}, r.Retired),
			Expiration: expiration(r.RetiredExpiry, now),
			CasID:      old.casID,
		}
		if r.Retired == nil || marker.Expiration < 0 {
			// Deleting the old record: the marker is a tombstone whose
			// header has expired (Load finds nothing, a swap conflicts),
			// which memcached keeps a moment, so that an undo can tell
			// it from a deletion by someone else.
			marker.Value = encode(header{version: mv, expiry: time.Unix(0, 0), filed: true}, nil)
			marker.Expiration = s.tombstoneSeconds()
		}
		// The add runs in a goroutine, and the cas waits until it has
		// started: a goroutine handed to a thread that is still waking
		// up could otherwise send the add only after the cas's answer.
		// Both are then sent within microseconds, whichever first.
		started, added := make(chan struct{}), make(chan error, 1)
		go func() {
			close(started)
			added <- s.client.Add(succ)
		}()
		<-started
		casErr := s.client.CompareAndSwap(marker)
		addErr := <-added
		if addErr == nil && casErr == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			// Renew has returned ctx's error, or is about to: the core
			// settles the renew from the records (see core.Renewer), and
			// an undo here could race it.
			return err
		}
		return s.undoRenew(r, old, mv, addErr, casErr)
	})
	if err != nil {
		return 0, s.wrap("renew", r.OldKey, err)
	}
	return nv, nil
}

// renewOld is the old record of a renew as the store last saw it.
type renewOld struct {
	h     header // version, expiry and filing
	casID uint64
	data  []byte
}

// renewSource returns the old record from what Load remembered and
// r.OldData, when both are at hand; ok is false otherwise.
func (s *Store) renewSource(r core.Renewal, now time.Time) (renewOld, bool) {
	if r.OldData == nil {
		return renewOld{}, false
	}
	id, h, live := s.casIDs.take(r.OldKey, r.OldVersion, now)
	if !live {
		// Not remembered, or expired: the get decides which.
		return renewOld{}, false
	}
	h.version = r.OldVersion
	return renewOld{h: h, casID: id, data: r.OldData}, true
}

// loadForRenew reads the old record of r with gets: it must be live at
// r.OldVersion.
func (s *Store) loadForRenew(r core.Renewal, now time.Time) (renewOld, error) {
	cur, h, data, err := s.getAt(r.OldKey, r.OldVersion, now)
	if err != nil {
		return renewOld{}, err
	}
	return renewOld{h: h, casID: cur.CasID, data: data}, nil
}

// undoRenew takes back the write of a renew that went through (or may
// have) when the other one did not. It first puts the old record back
// when this renew's marker (version mv) replaced it, and makes sure that
// a cas still on its way cannot replace it later; then it deletes the
// successor unless a record of someone else held its key. A command
// that never left (its connection could not be made) needs no undo. It
// returns the renew's outcome: core.ErrConflict when the old record had
// changed or a live record held the new key, the failures otherwise.
func (s *Store) undoRenew(r core.Renewal, old renewOld, mv uint64, addErr, casErr error) error {
	taken := errors.Is(addErr, memcache.ErrNotStored)
	casErr = casResult(casErr)
	lost := errors.Is(casErr, core.ErrConflict)
	var errs []error
	if addErr != nil && !taken {
		errs = append(errs, fmt.Errorf("writing the successor: %w", addErr))
	}
	if casErr != nil && !lost {
		errs = append(errs, fmt.Errorf("retiring the old record: %w", casErr))
	}
	switch unknown := casErr != nil && !lost && !notSent(casErr); {
	case casErr == nil:
		if err := s.restore(r.OldKey, old, mv, false); err != nil {
			errs = append(errs, fmt.Errorf("the old record was retired and could not be put back, so the session is lost: %w", err))
		}
	case unknown:
		if err := s.restore(r.OldKey, old, mv, true); err != nil {
			errs = append(errs, fmt.Errorf("the old record may have been retired and could not be checked, so the session may be lost: %w", err))
		}
	}
	if !taken && !notSent(addErr) {
		// Ours, or no record at all: nobody else knows the new key.
		if err := ignoreMiss(s.client.Delete(s.prefix + r.NewKey)); err != nil {
			errs = append(errs, fmt.Errorf("deleting the successor again: %w", err))
		}
	}
	if len(errs) == 0 {
		// Only lost races: the old record changed, or the new key is taken.
		return core.ErrConflict
	}
	return errors.Join(errs...)
}

// notSent reports whether err, a command's failure, shows that the
// command never reached a server: no connection could be made to it.
func notSent(err error) bool {
	if err == nil {
		return false
	}
	var timeout *memcache.ConnectTimeoutError
	var op *net.OpError
	return errors.As(err, &timeout) || errors.Is(err, memcache.ErrNoServers) ||
		errors.As(err, &op) && op.Op == "dial"
}

// restore puts the old record back after this renew's marker (version
// mv) replaced it. Anything else found under its key stays: a later
// write, or nothing, when a logout deleted the marker meanwhile (putting
// the record back would undo that logout). When the renew's cas got no
// answer (pending) and the old record is still there at the CAS id that
// cas was sent with, the cas may yet arrive: the item is rewritten as it
// is, so that its CAS id moves on and the late cas fails.
func (s *Store) restore(key string, old renewOld, mv uint64, pending bool) error {
	cur, err := s.client.Get(s.prefix + key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	if err != nil {
		return err
	}
	h, _, err := decode(cur.Value)
	switch {
	case err != nil:
		return nil // not a record of this store's
	case h.version == mv:
		cur.Value = encode(old.h, old.data)
		cur.Expiration = expiration(old.h.expiry, time.Now())
	case pending && h.version == old.h.version && cur.CasID == old.casID:
		cur.Expiration = expiration(h.expiry, time.Now())
	default:
		return nil
	}
	return ignoreNotStored(s.client.CompareAndSwap(cur))
}

// ignoreNotStored turns memcached's lost races of a restoration into
// success: another write got to the key first, and it stays.
func ignoreNotStored(err error) error {
	if errors.Is(err, memcache.ErrNotStored) || errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return err
}
