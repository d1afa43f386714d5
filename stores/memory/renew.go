package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

var _ core.Renewer = (*Store)(nil)

// Renew implements core.Renewer: under the locks of both keys' shards it
// creates r.NewKey and replaces the record r.OldKey, if it is live at
// r.OldVersion, by r.Retired (deleting it when r.Retired is nil or
// r.RetiredExpiry is not in the future). The new record is filed under
// r.User before the old one leaves its user's set, so that UserKeys sees
// the session under one of its keys throughout. Any mismatch returns an
// error wrapping core.ErrConflict and changes nothing.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	const op = "renew"
	oldK, err := begin(ctx, op, r.OldKey)
	if err != nil {
		return 0, err
	}
	newK, ok := parseKey(r.NewKey)
	if !ok {
		return 0, fmt.Errorf("sessionkit: memory: %s: %w", op, core.ErrInvalidKey)
	}
	if oldK == newK {
		return 0, fmt.Errorf("sessionkit: memory: %s: the new key is the old one: %w", op, core.ErrConflict)
	}
	if err := s.checkSize(op, r.Data); err != nil {
		return 0, err
	}
	if err := s.checkSize(op, r.Retired); err != nil {
		return 0, err
	}
	oldSh, newSh := s.shardOf(oldK), s.shardOf(newK)
	// Lock the two shards in address order, so that two renews never
	// wait for each other's second lock.
	first, second := oldSh, newSh
	if oldK[0]%shardCount > newK[0]%shardCount {
		first, second = newSh, oldSh
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	if second != first {
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	oldH, newH := hashKey(&oldK), hashKey(&newK)
	now := time.Now().UnixNano()
	_, p := oldSh.find(&oldK, oldH)
	if p < 0 || !oldSh.at(p).live(now) || oldSh.at(p).version != r.OldVersion {
		return 0, fmt.Errorf("sessionkit: memory: %s: %w", op, core.ErrConflict)
	}
	old := oldSh.at(p).entry
	slot, q := newSh.find(&newK, newH)
	if q >= 0 && newSh.at(q).live(now) {
		return 0, fmt.Errorf("sessionkit: memory: %s: a live record holds the new key: %w", op, core.ErrConflict)
	}
	exp := unixNano(r.Expiry)
	v := s.version.Add(1)
	if q >= 0 {
		s.unfile(newK, newSh.at(q).filed) // an expired record not swept yet
		newSh.remove(slot, q)
	}
	if exp > now {
		e := entry{data: fill(nil, r.Data), expiry: exp, version: v}
		if u := unixNano(r.Until); r.User != "" && u > now {
			e.filed = s.users.add(r.User, newK, u)
		}
		newSh.add(&newK, newH, e)
	}
	s.unfile(oldK, old.filed)
	// Find the old record again: when both keys share a shard, the
	// changes above may have moved it.
	slot, p = oldSh.find(&oldK, oldH)
	if rexp := unixNano(r.RetiredExpiry); r.Retired != nil && rexp > now {
		oldSh.at(p).entry = entry{data: fill(old.data, r.Retired), expiry: rexp, version: s.version.Add(1)}
	} else {
		oldSh.remove(slot, p)
	}
	return v, nil
}
