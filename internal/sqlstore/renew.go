package sqlstore

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Renew moves a session to a new key in one atomic step: with the
// dialect's Renew statement, one statement; without it, one transaction on
// the Write pool of the compare-and-swap statements: the old row's
// CASUpdateUser to the retired marker under no user (or DeleteLive when
// r.Retired is nil or r.RetiredExpiry is not in the future), then the new
// row's CASInsertUser under r.User until r.Until. If the old row is not
// live at r.OldVersion, or a live row exists under r.NewKey, it changes
// nothing and returns an error wrapping core.ErrConflict. It returns the
// new row's version.
//
// The Renew statement cannot delete the old row (it inserts and updates):
// with it, a renew that would delete returns an error wrapping
// core.ErrNotSupported, before any round trip, and the core renews in
// separate steps. The transaction costs a BEGIN and a COMMIT besides its
// two statements: one store call, but on a network database more round
// trips than the two compare-and-swaps it replaces; a database whose
// transactions take the write lock at BEGIN (SQLite with
// _txlock=immediate) is the one it suits.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	v, err := s.renew(ctx, &r)
	if err != nil {
		return 0, s.wrap("renew", err)
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
	retire := r.Retired != nil && r.RetiredExpiry.After(now)
	if s.stmts[qRenew].text != "" {
		if !retire {
			return 0, core.ErrNotSupported
		}
		return s.renewStatement(ctx, r, now)
	}
	f := newFiling(r.User, r.Until)
	ins := &args{key: r.NewKey, data: nonNil(r.Data), expiry: micros(r.Expiry), version: firstVersion(),
		now: now.UnixMicro(), user: f.user, until: f.until}
	old := &args{key: r.OldKey, version: int64(r.OldVersion), now: now.UnixMicro()} // user, until: NULL
	end := qDeleteLive
	if retire {
		end = qCASUpdateUser
		old.data, old.expiry, old.newVersion = r.Retired, micros(r.RetiredExpiry), old.version+1
	}
	endStmt, insStmt, err := s.stmtPair(ctx, end, qCASInsertUser)
	defer s.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	err = RetryBusy(ctx, s.d.Busy, s.cfg.BusyTimeout, func() error {
		return s.renewTx(ctx, endStmt, end, old, insStmt, ins)
	})
	if err != nil {
		return 0, err
	}
	return uint64(ins.version), nil
}

// renewStatement is Renew with the dialect's Renew statement.
func (s *Store) renewStatement(ctx context.Context, r *core.Renewal, now time.Time) (uint64, error) {
	f := newFiling(r.User, r.Until)
	a := &args{key: r.NewKey, data: nonNil(r.Data), expiry: micros(r.Expiry), version: firstVersion(),
		now: now.UnixMicro(), user: f.user, until: f.until,
		oldKey: r.OldKey, oldVersion: int64(r.OldVersion), retired: r.Retired, retiredExpiry: micros(r.RetiredExpiry)}
	res, err := s.exec(ctx, qRenew, a)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, core.ErrConflict
	}
	return uint64(a.version), nil
}

// renewTx runs one attempt of Renew's transaction: query end (the old
// row's retirement) with old, then CASInsertUser with ins.
func (s *Store) renewTx(ctx context.Context, endStmt *sql.Stmt, end queryID, old *args, insStmt *sql.Stmt, ins *args) (err error) {
	tx, err := s.cfg.Write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	res, err := tx.StmtContext(ctx, endStmt).ExecContext(ctx, s.stmts[end].args(old)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return orConflict(err)
	}
	res, err = tx.StmtContext(ctx, insStmt).ExecContext(ctx, s.stmts[qCASInsertUser].args(ins)...)
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
