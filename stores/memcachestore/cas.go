package memcachestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/core"
)

// CompareAndSwap stores data under key until expiry if the record's version
// equals version. Version zero creates the record only when no live record
// exists, in one round trip (add). Any other version is one round trip
// (cas) when this store loaded the record at that version moments ago and
// remembers the item's CAS id, and otherwise two (gets, then cas on
// memcached's CAS id); either way a write since the gets is detected by
// the server. An expiry that is not in the future removes the record. The
// record keeps its filing under a user (see CompareAndSwapUser); a record
// it creates, like one Save writes, has no filing of its own.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	if !core.ValidKey(key) {
		return 0, fmt.Errorf("sessionkit: memcache: compare-and-swap: %w", core.ErrInvalidKey)
	}
	if headerLen+len(data) > s.maxItem {
		return 0, fmt.Errorf("sessionkit: memcache: compare-and-swap: %w: %d bytes, limit %d", core.ErrTooLarge, len(data), s.MaxRecordSize())
	}
	nv := newVersion()
	err := s.do(ctx, boundCAS, func() error {
		now := time.Now()
		item := &memcache.Item{
			Key:        s.prefix + key,
			Value:      encode(header{version: nv, expiry: expiry}, data),
			Expiration: expiration(expiry, now),
		}
		if version == 0 {
			return s.create(item, now)
		}
		if id, h, ok := s.casIDs.take(key, version, now); ok {
			// The item is unchanged since a gets saw version in its
			// header if, and only if, its CAS id is still id; its
			// filing then is the one remembered with it.
			if h.filed {
				item.Value = encode(header{version: nv, expiry: expiry, filed: true, owner: h.owner}, data)
			}
			item.CasID = id
			err := s.client.CompareAndSwap(item)
			if !errors.Is(err, memcache.ErrCASConflict) {
				return casResult(err)
			}
			// Rewritten since: perhaps only by a Touch, which keeps the
			// version. Check the header as if nothing were remembered.
		}
		cur, h, _, err := s.getAt(key, version, now)
		if err != nil {
			return err
		}
		if h.filed {
			// Keep the record's filing (see CompareAndSwapUser).
			item.Value = encode(header{version: nv, expiry: expiry, filed: true, owner: h.owner}, data)
		}
		item.CasID = cur.CasID
		return casResult(s.client.CompareAndSwap(item))
	})
	if err != nil {
		return 0, s.wrap("compare-and-swap", key, err)
	}
	return nv, nil
}

// getAt reads the record under key with gets: it must be live at
// version, or the error is core.ErrConflict. It returns the item (with
// its CAS id), its header and its data.
func (s *Store) getAt(key string, version uint64, now time.Time) (*memcache.Item, header, []byte, error) {
	cur, err := s.client.Get(s.prefix + key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, header{}, nil, core.ErrConflict
	}
	if err != nil {
		return nil, header{}, nil, err
	}
	h, data, err := decode(cur.Value)
	if err != nil {
		return nil, header{}, nil, err
	}
	if h.version != version || !h.live(now) {
		return nil, header{}, nil, core.ErrConflict
	}
	return cur, h, data, nil
}

// create adds item when no live record exists. An item whose header says it
// has expired, but which memcached still holds, is replaced with cas.
func (s *Store) create(item *memcache.Item, now time.Time) error {
	err := s.client.Add(item)
	if !errors.Is(err, memcache.ErrNotStored) {
		return err
	}
	cur, err := s.client.Get(item.Key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		// Gone since the add: try once more, a second loss is a conflict.
		return casResult(s.client.Add(item))
	}
	if err != nil {
		return err
	}
	if h, _, err := decode(cur.Value); err == nil && h.live(now) {
		return core.ErrConflict
	}
	item.CasID = cur.CasID
	return casResult(s.client.CompareAndSwap(item))
}

// casResult maps memcached's lost races to core.ErrConflict.
func casResult(err error) error {
	if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrNotStored) || errors.Is(err, memcache.ErrCacheMiss) {
		return core.ErrConflict
	}
	return err
}

// Touch sets the expiry of the record under key, keeping its data and
// version. It rewrites the item (gets, then cas: two round trips), because
// memcached's own touch would leave the expiry in the header, which Load
// reports, unchanged. A missing or expired record stays missing (an error
// wrapping core.ErrNotFound); an expiry that is not in the future removes
// the record.
//
// When a concurrent write replaces the item between the two round trips,
// Touch changes nothing and returns an error wrapping core.ErrConflict
// without retrying: the record was just rewritten, and so extended, by that
// writer, so there is nothing left to refresh (the core treats it as
// success). Retrying would only lose again while writers are busy.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if !core.ValidKey(key) {
		return fmt.Errorf("sessionkit: memcache: touch: %w", core.ErrInvalidKey)
	}
	err := s.do(ctx, boundTouch, func() error {
		cur, err := s.client.Get(s.prefix + key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			return core.ErrNotFound
		}
		if err != nil {
			return err
		}
		now := time.Now()
		h, data, err := decode(cur.Value)
		if err != nil {
			return err
		}
		if !h.live(now) {
			return core.ErrNotFound
		}
		h.expiry = expiry
		cur.Value = encode(h, data)
		cur.Expiration = expiration(expiry, now)
		return casTouchResult(s.client.CompareAndSwap(cur))
	})
	if err != nil {
		return s.wrap("touch", key, err)
	}
	return nil
}

// casTouchResult maps the outcome of Touch's cas: a vanished item is
// core.ErrNotFound, a concurrent rewrite core.ErrConflict.
func casTouchResult(err error) error {
	switch {
	case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return core.ErrNotFound // the record vanished meanwhile
	case errors.Is(err, memcache.ErrCASConflict):
		return fmt.Errorf("%w: rewritten by a concurrent write", core.ErrConflict)
	}
	return err
}
