// Package pgtest finds the PostgreSQL server the postgres store's tests run
// against and gives each test a table of its own.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/internal/testserver"
)

// PostgresEnv names the environment variable that holds the DSN of the
// PostgreSQL server to test against.
const PostgresEnv = "SESSIONKIT_POSTGRES_DSN"

// pgCandidates are the local servers Postgres tries when PostgresEnv is
// unset: TCP on loopback, then the Debian unix socket, both with the
// database "test" and user "postgres" (trust authentication).
var pgCandidates = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	"host=/var/run/postgresql user=postgres dbname=test sslmode=disable",
}

// pgPingTimeout bounds each reachability probe.
const pgPingTimeout = 3 * time.Second

// pgFound caches the result of probing the local candidates, so that many
// tests pay for the probe once.
var pgFound = sync.OnceValues(func() (string, error) {
	var errs []error
	for _, dsn := range pgCandidates {
		err := pgPing(dsn)
		if err == nil {
			return dsn, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
})

// Postgres returns the DSN of a reachable PostgreSQL server: the value of
// SESSIONKIT_POSTGRES_DSN when set (failing t if that server does not
// answer), otherwise the local server on 127.0.0.1:5432 or the unix socket in
// /var/run/postgresql. When none answers it skips t, saying how to point
// the tests at a server, or fails it if SESSIONKIT_REQUIRE_SERVERS=1.
func Postgres(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(PostgresEnv); dsn != "" {
		if err := pgPing(dsn); err != nil {
			t.Fatalf("pgtest: %s is set but the server does not answer: %v", PostgresEnv, err)
		}
		return dsn
	}
	dsn, err := pgFound()
	if err != nil {
		testserver.Unavailable(t, "pgtest: no PostgreSQL server reachable (%v): set %s to a DSN such as %q",
			err, PostgresEnv, pgCandidates[0])
	}
	return dsn
}

// PostgresTable returns a table name unique to this test,
// "sessionkit_test_" and 16 random hex digits, and drops that table (if the
// test created it) when the test ends, so parallel test runs on one database
// never collide.
func PostgresTable(t testing.TB, dsn string) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	name := "sessionkit_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pgExec(ctx, dsn, "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Errorf("pgtest: drop table %s: %v", name, err)
		}
	})
	return name
}

// pgPing connects to dsn and pings the server.
func pgPing(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgPingTimeout)
	defer cancel()
	return pgExec(ctx, dsn, "SELECT 1")
}

// pgExec runs one statement on a fresh connection to dsn.
func pgExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}
