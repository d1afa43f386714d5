package sqlstore

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Renew moves a session to a new key in one atomic step. To retire the old
// row it runs the dialect's Renew statement: if the old row is live at
// r.OldVersion and no live row exists under r.NewKey, it creates the new
// row as CASInsertUser does, under r.User until r.Until, and replaces the
// old row by r.Retired until r.RetiredExpiry under no user. An INSERT
// cannot delete, so to delete the old row (r.Retired nil, or
// r.RetiredExpiry not in the future) it runs a transaction of DeleteLive
// and CASInsertUser when the dialect allows (RenewDeleteTx), and otherwise
// returns an error wrapping core.ErrNotSupported before any round trip, so
// that the core renews in separate steps. When the old row is not live at
// r.OldVersion, or a live row exists under r.NewKey, it changes nothing
// and returns an error wrapping core.ErrConflict. It returns the new row's
// version.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	v, err := s.renew(ctx, &r)
	if err != nil {
		return 0, s.wrapWrite(ctx, "renew", len(r.Data)+len(r.Retired), err)
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
	if len(r.Data) > s.cfg.MaxDataSize || len(r.Retired) > s.cfg.MaxDataSize {
		return 0, core.ErrTooLarge
	}
	if r.OldVersion == 0 || r.OldVersion >= math.MaxInt64 || r.OldKey == r.NewKey {
		return 0, core.ErrConflict // no live row has this version; the old row is live under the new key
	}
	now := time.Now()
	f := newFiling(r.User, r.Until)
	a := &args{key: r.NewKey, data: nonNil(r.Data), expiry: micros(r.Expiry), version: firstVersion(),
		now: now.UnixMicro(), user: f.user, until: f.until, oldKey: r.OldKey, oldVersion: int64(r.OldVersion)}
	if r.Retired == nil || !r.RetiredExpiry.After(now) {
		if !s.d.RenewDeleteTx {
			return 0, core.ErrNotSupported
		}
		return s.renewDelete(ctx, a)
	}
	a.retired, a.retiredExpiry = r.Retired, micros(r.RetiredExpiry)
	if err := s.execWon(ctx, qRenew, a); err != nil {
		return 0, err
	}
	return uint64(a.version), nil
}

// renewDelete is Renew that deletes the old row: a transaction on the
// Write pool of DeleteLive and CASInsertUser, rolled back on a conflict
// and tried again while the database is busy.
func (s *Store) renewDelete(ctx context.Context, a *args) (uint64, error) {
	del, ins, err := s.stmtPair(ctx, qDeleteLive, qCASInsertUser)
	defer s.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	old := &args{key: a.oldKey, version: a.oldVersion, now: a.now}
	err = RetryBusy(ctx, s.d.Busy, s.cfg.BusyTimeout, func() error {
		return s.renewTx(ctx, del, old, ins, a)
	})
	if err != nil {
		return 0, err
	}
	return uint64(a.version), nil
}

// renewTx runs one attempt of renewDelete's transaction: DeleteLive with
// old, then CASInsertUser with a.
func (s *Store) renewTx(ctx context.Context, del *sql.Stmt, old *args, ins *sql.Stmt, a *args) (err error) {
	tx, err := s.cfg.Write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	res, err := tx.StmtContext(ctx, del).ExecContext(ctx, s.stmts[qDeleteLive].args(old)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return orConflict(err)
	}
	res, err = tx.StmtContext(ctx, ins).ExecContext(ctx, s.stmts[qCASInsertUser].args(a)...)
	if err != nil {
		return err
	}
	if won, err := s.d.InsertWon(res); err != nil || !won {
		return orConflict(err)
	}
	return tx.Commit()
}

// orConflict returns err, or core.ErrConflict when err is nil.
func orConflict(err error) error {
	if err != nil {
		return err
	}
	return core.ErrConflict
}

// stmtPair returns queries a and b prepared, with s.mu held for reading as
// stmt does: the caller must call s.mu.RUnlock when done with them (also
// when stmtPair fails). It never holds s.mu twice, which would deadlock
// with a waiting Close.
func (s *Store) stmtPair(ctx context.Context, a, b queryID) (*sql.Stmt, *sql.Stmt, error) {
	for {
		sb, err := s.stmt(ctx, b)
		if err != nil {
			return nil, nil, err
		}
		if sa := s.prepared[a]; sa != nil {
			return sa, sb, nil
		}
		s.mu.RUnlock()
		_, err = s.stmt(ctx, a) // prepares a
		if err != nil {
			return nil, nil, err
		}
		s.mu.RUnlock()
	}
}
