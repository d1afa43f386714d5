package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
)

// renewHarness runs the shared renew tests on pools that edit configures.
func renewHarness(edit func(*mysql.Config)) sqlstoretest.RenewHarness {
	u := userHarness(edit)
	return sqlstoretest.RenewHarness{
		New:       func(t *testing.T) sqlstoretest.RenewStore { return u.New(t).(*Store) },
		ExpireAll: func(t *testing.T, s sqlstoretest.RenewStore) { u.ExpireAll(t, s) },
		Count:     func(t *testing.T, s sqlstoretest.RenewStore) int { return u.Count(t, s) },
		NoDelete:  true,
		Other: func(t *testing.T, s sqlstoretest.RenewStore) sqlstoretest.RenewStore {
			o, err := New(newDB(t, dbOptions{edit: edit}), Config{TableName: strings.Trim(s.(*Store).TableName(), "`")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { o.Close() })
			return o
		},
	}
}

// TestRenew runs the shared renew tests with the driver's defaults, with
// clientFoundRows (which changes what rows affected means) and under READ
// COMMITTED, where only the statement's FOR UPDATE makes its reads see
// the latest rows.
func TestRenew(t *testing.T) {
	t.Run("defaults", func(t *testing.T) { sqlstoretest.RunRenew(t, renewHarness(nil)) })
	t.Run("foundrows", func(t *testing.T) {
		sqlstoretest.RunRenew(t, renewHarness(func(c *mysql.Config) { c.ClientFoundRows = true }))
	})
	t.Run("readcommitted", func(t *testing.T) {
		sqlstoretest.RunRenew(t, renewHarness(func(c *mysql.Config) {
			if c.Params == nil {
				c.Params = map[string]string{}
			}
			c.Params["tx_isolation"] = "'READ-COMMITTED'"
		}))
	})
}

// TestRenewWaitsForWriter makes Renew meet a concurrent writer
// deterministically, under REPEATABLE READ and READ COMMITTED: a
// transaction changes the old row (or creates the new key) and stays
// open, Renew starts and waits for its lock, then the transaction
// commits. Renew must then judge the rows as committed: lose to a new
// version, a delete or a live new key (changing nothing), and win over a
// change that kept the version (a Touch).
func TestRenewWaitsForWriter(t *testing.T) {
	for _, iso := range []string{"REPEATABLE-READ", "READ-COMMITTED"} {
		t.Run(iso, func(t *testing.T) {
			edit := func(c *mysql.Config) {
				if c.Params == nil {
					c.Params = map[string]string{}
				}
				c.Params["tx_isolation"] = "'" + iso + "'"
			}
			db := newDB(t, dbOptions{edit: edit})
			for _, tc := range []struct {
				name   string
				writer string // ? is the old key, then the new key
				win    bool
			}{
				{"CompareAndSwap", "UPDATE %s SET `data` = 'swapped', `version` = `version` + 1 WHERE `key` = ? AND ? <> ''", false},
				{"Delete", "DELETE FROM %s WHERE `key` = ? AND ? <> ''", false},
				{"Touch", "UPDATE %s SET `expiry` = `expiry` + 60000000 WHERE `key` = ? AND ? <> ''", true},
				{"CreateNewKey", "INSERT INTO %s (`key`, `data`, `expiry`, `version`) SELECT ?, 'taken', 9000000000000000, 9 FROM DUAL WHERE ? <> ''", false},
			} {
				t.Run(tc.name, func(t *testing.T) { testRenewWaitsForWriter(t, db, tc.writer, tc.win) })
			}
		})
	}
}

func testRenewWaitsForWriter(t *testing.T, db *sql.DB, writer string, win bool) {
	s := newStore(t, db, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exp := time.Now().Add(time.Hour)
	r := core.Renewal{OldKey: testKey("old"), NewKey: testKey("new"), Data: []byte("new"), Expiry: exp,
		Retired: []byte("retired"), RetiredExpiry: exp, User: "alice", Until: exp}
	var err error
	if r.OldVersion, err = s.CompareAndSwapUser(ctx, r.OldKey, 0, []byte("old"), exp, "alice", exp); err != nil {
		t.Fatal(err)
	}
	created := strings.HasPrefix(writer, "INSERT")
	first, second := r.OldKey, r.NewKey
	if created {
		first, second = r.NewKey, r.OldKey
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(writer, s.TableName()), first, second); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Renew(ctx, r)
		done <- err
	}()
	waitForLockWait(t, db, s)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	err = <-done
	newData, oldData := loadData(t, s, r.NewKey), loadData(t, s, r.OldKey)
	switch {
	case win && (err != nil || newData != "new" || oldData != "retired"):
		t.Errorf("Renew after the writer committed = %v, new key %q, old key %q; want nil, %q, %q", err, newData, oldData, "new", "retired")
	case !win && (!errors.Is(err, core.ErrConflict) || created && (newData != "taken" || oldData != "old") || !created && newData != "<none>"):
		t.Errorf("Renew after the writer committed = %v, new key %q, old key %q; want ErrConflict and nothing changed", err, newData, oldData)
	}
}

// waitForLockWait waits until Renew's statement on s's table runs, and a
// little longer: the writer's transaction holds the lock it needs, so it
// waits there. (InnoDB lists the wait in INNODB_TRX only once the
// optimizer's read of the old row, a constant lookup, is done with it,
// which can take seconds on a busy server.)
func waitForLockWait(t *testing.T, db *sql.DB, s *Store) {
	t.Helper()
	name := strings.Trim(s.TableName(), "`")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST"+
			" WHERE command <> 'Sleep' AND info LIKE 'INSERT%' AND INSTR(info, ?) > 0", name).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			time.Sleep(50 * time.Millisecond)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("Renew never waited for the writer's lock")
}

// TestRenewRoundTrips checks that Renew is one command on the wire once
// prepared, whether it wins or loses, and that a renew it cannot do (one
// that deletes the old row) costs none.
func TestRenewRoundTrips(t *testing.T) {
	c := &commandCounter{}
	db := newDB(t, dbOptions{maxConns: 1, dial: c.dial})
	s := newStore(t, db, Config{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	key := testKey("0")
	version, err := s.CompareAndSwap(ctx, key, 0, []byte("x"), exp)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	renew := func(retired []byte, want error) error {
		n++
		next := testKey(fmt.Sprint(n))
		v, err := s.Renew(ctx, core.Renewal{OldKey: key, OldVersion: version, Retired: retired, RetiredExpiry: exp,
			NewKey: next, Data: []byte("x"), Expiry: exp, User: "alice", Until: exp})
		if err == nil {
			key, version = next, v
		}
		if !errors.Is(err, want) {
			return fmt.Errorf("got %v, want %v", err, want)
		}
		return nil
	}
	ops := []struct {
		name  string
		trips int64
		run   func() error
	}{
		{"Renew", 1, func() error { return renew([]byte("retired"), nil) }},
		{"Renew(conflict)", 1, func() error {
			version++
			defer func() { version-- }()
			return renew([]byte("retired"), core.ErrConflict)
		}},
		{"Renew(delete)", 0, func() error { return renew(nil, core.ErrNotSupported) }},
	}
	for _, op := range ops { // warm-up: prepares each statement
		if err := op.run(); err != nil {
			t.Fatalf("warm-up %s = %v", op.name, err)
		}
	}
	c.reset()
	for _, op := range ops {
		if err := op.run(); err != nil {
			t.Fatalf("%s = %v", op.name, err)
		}
		if got := c.reset(); got != op.trips {
			t.Errorf("%s took %d round trips, want %d", op.name, got, op.trips)
		}
	}
}
