package postgresstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
)

// TestRenew runs the shared renew tests on PostgreSQL.
func TestRenew(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	sqlstoretest.RunRenew(t, sqlstoretest.RenewHarness{
		New: func(t *testing.T) sqlstoretest.RenewStore { return newStore(t, pool, dsn, Config{}) },
		ExpireAll: func(t *testing.T, s sqlstoretest.RenewStore) {
			_, err := pool.Exec(context.Background(), "UPDATE "+s.(*Store).TableName()+" SET expiry = now() - interval '1 second'")
			if err != nil {
				t.Fatal(err)
			}
		},
		Count: func(t *testing.T, s sqlstoretest.RenewStore) int {
			var n int
			if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+s.(*Store).TableName()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		Other: func(t *testing.T, s sqlstoretest.RenewStore) sqlstoretest.RenewStore {
			other, _ := newPool(t, 0, nil)
			o, err := New(other, Config{TableName: strings.Trim(s.(*Store).TableName(), `"`)})
			if err != nil {
				t.Fatal(err)
			}
			return o
		},
	})
}

// TestRenewWaitsForWriter makes Renew meet a concurrent writer of the old
// row deterministically: a transaction changes the row and stays open,
// Renew starts (its statement's snapshot still shows the row as loaded)
// and waits for the row lock, then the transaction commits. Renew must
// then judge the row as committed: lose to a new version or a delete
// (creating nothing), and win over a change that kept the version (a
// Touch), retiring the row as it now is.
func TestRenewWaitsForWriter(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	for _, tc := range []struct {
		name   string
		writer string // $1: the old key
		win    bool
	}{
		{"CompareAndSwap", "UPDATE %s SET data = 'swapped', version = version + 1 WHERE key = $1", false},
		{"Delete", "DELETE FROM %s WHERE key = $1", false},
		{"Touch", "UPDATE %s SET expiry = expiry + interval '1 minute' WHERE key = $1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, pool, dsn, Config{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			exp := time.Now().Add(time.Hour)
			r := core.Renewal{OldKey: testKey("old"), NewKey: testKey("new"), Data: []byte("new"), Expiry: exp,
				Retired: []byte("retired"), RetiredExpiry: exp, User: "alice", Until: exp}
			var err error
			if r.OldVersion, err = s.CompareAndSwapUser(ctx, r.OldKey, 0, []byte("old"), exp, "alice", exp); err != nil {
				t.Fatal(err)
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, fmt.Sprintf(tc.writer, s.TableName()), r.OldKey); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := s.Renew(ctx, r)
				done <- err
			}()
			waitForLockWait(t, pool, s)
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			err = <-done
			newData := loadData(t, s, r.NewKey)
			if !tc.win {
				if !errors.Is(err, core.ErrConflict) || newData != "<none>" {
					t.Errorf("Renew after a concurrent %s committed = %v, new key %q; want ErrConflict and nothing", tc.name, err, newData)
				}
				return
			}
			if err != nil || newData != "new" || loadData(t, s, r.OldKey) != "retired" {
				t.Errorf("Renew after a concurrent %s committed = %v, new key %q, old key %q; want nil, %q, %q",
					tc.name, err, newData, loadData(t, s, r.OldKey), "new", "retired")
			}
		})
	}
}

// waitForLockWait waits until a statement on s's table waits for a lock.
func waitForLockWait(t *testing.T, pool *pgxpool.Pool, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := pool.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0", s.TableName()).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("Renew never waited for the row lock")
}

// TestRenewRoundTrips checks that Renew is one statement, and so one
// round trip once prepared, whether it retires the old row, deletes it or
// loses.
func TestRenewRoundTrips(t *testing.T) {
	c := &counter{}
	pool, dsn := newPool(t, 1, c) // one connection: every statement is prepared once
	s := newStore(t, pool, dsn, Config{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	key := testKey("0")
	version, err := s.CompareAndSwap(ctx, key, 0, []byte("x"), exp)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	renew := func(retired []byte) (uint64, error) {
		n++
		next := testKey(fmt.Sprint(n))
		v, err := s.Renew(ctx, core.Renewal{OldKey: key, OldVersion: version, Retired: retired, RetiredExpiry: exp,
			NewKey: next, Data: []byte("x"), Expiry: exp, User: "alice", Until: exp})
		if err == nil {
			key, version = next, v
		}
		return v, err
	}
	ops := []struct {
		name string
		run  func() error
	}{
		{"Renew(retire)", func() error { _, err := renew([]byte("retired")); return err }},
		{"Renew(delete)", func() error { _, err := renew(nil); return err }},
		{"Renew(conflict)", func() error {
			version++
			defer func() { version-- }()
			if _, err := renew(nil); !errors.Is(err, core.ErrConflict) {
				return fmt.Errorf("got %v, want ErrConflict", err)
			}
			return nil
		}},
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
		if got := c.reset(); got != 1 {
			t.Errorf("%s took %d round trips, want 1", op.name, got)
		}
	}
}
