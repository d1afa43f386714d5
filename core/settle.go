package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sessionkit/sessionkit/internal/backoff"
)

// A renew (a login) is decided by one write: Renewer.Renew, or, on the
// two-step path, the compare-and-swap that retires the old record after
// the successor was written. When that write fails without saying
// whether it took effect (a timeout, a dropped connection, a reply lost
// on its way back), the old token may already be a retired marker while
// the client, answered with an error, never gets the new one: for
// RenewGrace its requests would find an empty session and have their
// changes dropped, and the session would then be gone. The core finds out
// instead (settle): the write took effect, and the commit succeeds after
// all, sending the new token; or it did not, and never will (the old
// record is rewritten unchanged, so that a write still on its way fails
// on the version), and the error stands with the old token working as
// before. When the store does not answer within the commit's deadline,
// the request fails and the core keeps asking in the background
// (settleLater); a renew it then finds done is undone, since its new
// token reached nobody: the successor is ended, and the old record put
// back when it was an anonymous session (see restore).

// settleFate is what settle found out about a renew.
type settleFate uint8

const (
	fateUnknown    settleFate = iota // the store did not answer
	fateApplied                      // done: the successor holds the session
	fateNotApplied                   // not done, and it can no longer be
	fateEnded                        // done, but the successor has ended since (or was never written)
	fateHalf                         // the old record retired, the successor's key taken before its write landed
)

// pendingRenew is a renew whose deciding write failed with an unclear
// error (see unsettled).
type pendingRenew struct {
	// inOne is set for Renewer.Renew, which wrote both records or neither;
	// otherwise the successor was written before the retirement failed.
	inOne bool
	// oldKey at oldVersion is the record the renew retires; oldData and
	// oldExpiry are its data (nil when unknown) and expiry, to put it back.
	oldKey     string
	oldVersion uint64
	oldData    []byte
	oldExpiry  time.Time
	// marker is the retired marker the renew writes over the old record
	// until markerExpiry (nil: it deletes the record).
	marker       []byte
	markerExpiry time.Time
	newKey       string
}

// settled is what settle found: the fate, and the versions of the old
// key's record (when it is this renew's marker) and of the successor.
type settled struct {
	fate                    settleFate
	markerVer, successorVer uint64
}

// unsettled reports whether err, from a write that failed, leaves open
// whether the write took effect: every error but those a store returns
// having changed nothing.
func unsettled(err error) bool {
	return !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotSupported) &&
		!errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrInvalidKey) && !errors.Is(err, errGone)
}

// settle finds out whether p took effect, making sure that it cannot
// later when it has not. Only with a compare-and-swap store.
func (m *Manager) settle(ctx context.Context, p *pendingRenew) (settled, error) {
	for attempt := 1; ; attempt++ {
		cctx, dl := m.callCtx(ctx)
		rec, found, err := m.cfg.Store.Load(cctx, p.oldKey)
		dl.release()
		if err != nil {
			return settled{}, fmt.Errorf("sessionkit: load: %w", err)
		}
		if found && !m.cfg.Now().Before(rec.Expiry) {
			found = false
		}
		if found && rec.Version == p.oldVersion {
			// Untouched: the write has not landed, or not yet. Rewrite the
			// record unchanged (its filing stays), so that a write still on
			// its way fails on the version.
			cctx, dl := m.callCtx(ctx)
			_, err := m.cas.CompareAndSwap(cctx, p.oldKey, p.oldVersion, rec.Data, rec.Expiry)
			dl.release()
			switch {
			case err == nil:
				return settled{fate: fateNotApplied}, nil
			case !errors.Is(err, ErrConflict):
				return settled{}, fmt.Errorf("sessionkit: save: %w", err)
			}
			if err := backoff.Wait(ctx, attempt); err != nil {
				return settled{}, err
			}
			continue // changed just now: by the write, or by another request
		}
		// Changed or gone: the write cannot land any more. It did land if
		// the old record is its marker (no other renew's: a marker holds a
		// random value) or, for a Renew without a marker, is
		// gone, and the successor exists. Without a marker the two-step
		// retirement cannot be told from a logout that deleted the record:
		// it counts as not done, and the session ends.
		ours := found && p.marker != nil && bytes.Equal(rec.Data, p.marker) ||
			!found && p.marker == nil && p.inOne
		if !ours {
			return settled{fate: fateNotApplied}, nil
		}
		cctx, dl = m.callCtx(ctx)
		succ, ok, err := m.cfg.Store.Load(cctx, p.newKey)
		dl.release()
		switch {
		case err != nil:
			return settled{}, fmt.Errorf("sessionkit: load: %w", err)
		case !ok && p.inOne && p.marker != nil:
			// A store that sends the two writes apart (memcached) may
			// still be writing the successor. Take its key (with a marker
			// that nobody holds), so that it cannot: then the renew is
			// half done, and is undone as one that took effect.
			tomb, until := m.retiredMarker(m.cfg.Now())
			cctx, dl = m.callCtx(ctx)
			_, err := m.cas.CompareAndSwap(cctx, p.newKey, 0, tomb, until)
			dl.release()
			switch {
			case err == nil:
				return settled{fate: fateHalf, markerVer: rec.Version}, nil
			case !errors.Is(err, ErrConflict):
				return settled{}, fmt.Errorf("sessionkit: save: %w", err)
			}
			continue // the successor has just been written
		case !ok:
			return settled{fate: fateEnded}, nil
		}
		return settled{fate: fateApplied, markerVer: rec.Version, successorVer: succ.Version}, nil
	}
}

// settleRenew settles p, whose deciding write failed with cause, within
// the commit's ctx. It returns the successor's version when the renew
// took effect, so that the commit succeeds; otherwise it cleans up what
// the renew left (the successor of the two-step path) and the commit
// fails with cause, here or, when the store does not answer in time, in
// the background.
func (m *Manager) settleRenew(ctx context.Context, p *pendingRenew, cause error) (uint64, error) {
	st, err := m.settle(ctx, p)
	if err == nil && st.fate == fateApplied {
		m.cfg.Logger.LogAttrs(ctx, slog.LevelInfo,
			"sessionkit: a renew's store call failed, yet the renew took effect; the commit succeeds", slog.String("cause", cause.Error()))
		return st.successorVer, nil
	}
	if err == nil {
		err = m.unwind(ctx, p, st)
	}
	if err != nil {
		later := *p // p stays on its caller's stack
		m.settleLater(&later)
	}
	return 0, cause
}

// unwind cleans up after a renew whose new token will not reach the
// client, as settle found it: the successor of a renew that did not take
// effect is deleted; a renew that did is undone, the old record put back
// over its marker (see restore) and then the successor ended; a renew
// half done has its old record put back. A renew that ended (its
// successor gone) is left alone: the session ended with it.
func (m *Manager) unwind(ctx context.Context, p *pendingRenew, st settled) error {
	switch st.fate {
	case fateNotApplied:
		// The successor of a two-step renew; after Renew, nothing (almost
		// always).
		cctx, dl := m.callCtx(ctx)
		defer dl.release()
		if err := m.cfg.Store.Delete(cctx, p.newKey); err != nil {
			return fmt.Errorf("sessionkit: delete: %w", err)
		}
		return nil
	case fateHalf:
		return m.restore(ctx, p, st.markerVer)
	case fateApplied:
	default:
		return nil
	}
	if err := m.restore(ctx, p, st.markerVer); err != nil {
		return err
	}
	return m.endAt(ctx, p.newKey, st.successorVer)
}

// restore puts p's old record back over the renew's marker (at version
// markerVer), when that is safe: only an anonymous session (a login's
// pre-login session) comes back, since a request with the old token may
// have logged out meanwhile, which a retired token cannot do (its requests
// are dropped): a session of a user is left ended, as the renew left it.
// Without a marker (RenewGrace off) nothing is put back: a deleted record
// cannot be told from one deleted by a logout. Nor when the old data is
// unknown, or the marker changed meanwhile (it expired, say).
func (m *Manager) restore(ctx context.Context, p *pendingRenew, markerVer uint64) error {
	if p.oldData == nil || p.marker == nil {
		return nil
	}
	created, values, err := m.decode(p.oldData, false)
	if err != nil || metaString(values, userKey) != "" {
		return nil
	}
	w := writeOp{key: p.oldKey, version: markerVer, created: created, state: values, expiry: p.oldExpiry}
	cctx, dl := m.callCtx(ctx)
	defer dl.release()
	if _, err := m.swap(cctx, &w, p.oldData); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("sessionkit: save: %w", err)
	}
	return nil
}

// endAt ends the record under key at version v, as EndSession does; a
// record that changed or ended meanwhile is left as it is.
func (m *Manager) endAt(ctx context.Context, key string, v uint64) error {
	cctx, dl := m.callCtx(ctx)
	defer dl.release()
	if _, err := m.cas.CompareAndSwap(cctx, key, v, nil, time.Unix(1, 0)); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("sessionkit: delete: %w", err)
	}
	return nil
}

// maxSettling bounds the renews settleLater works on at once: in an outage
// every login may fail so, and the store, once back, must not meet a
// thundering herd of them.
const maxSettling = 256

// settleLater settles and unwinds p in the background, after its request
// failed, asking the store again until it answers, for as long as the
// renew's marker lasts (RenewGrace; CommitTimeout when there is none):
// after that a marker has expired by itself, and only the successor may
// be left, which expires in turn.
func (m *Manager) settleLater(p *pendingRenew) {
	if m.settling.Add(1) > maxSettling {
		m.settling.Add(-1)
		m.cfg.Logger.LogAttrs(context.Background(), slog.LevelError,
			"sessionkit: too many renews of unknown outcome are being settled; this one is left: its old token may load nothing until its marker expires")
		return
	}
	d := m.cfg.RenewGrace
	if p.marker == nil {
		d = m.cfg.CommitTimeout
	}
	go func() {
		defer m.settling.Add(-1)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		for attempt := 1; ; attempt++ {
			st, err := m.settle(ctx, p)
			if err == nil {
				if err = m.unwind(ctx, p, st); err == nil {
					if st.fate == fateApplied {
						m.cfg.Logger.LogAttrs(ctx, slog.LevelWarn,
							"sessionkit: a renew whose outcome was unknown had taken effect; it was undone, as its new token reached nobody")
					}
					return
				}
			}
			if ctx.Err() != nil {
				m.cfg.Logger.LogAttrs(ctx, slog.LevelError,
					"sessionkit: the outcome of a failed renew is still unknown; the old token may load nothing until its marker expires",
					slog.String("error", err.Error()))
				return
			}
			t := time.NewTimer(min(time.Duration(attempt)*100*time.Millisecond, time.Second))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}()
}
