package pgtest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	dsn := Postgres(t)
	if err := pgPing(dsn); err != nil {
		t.Fatalf("Postgres returned %q, which does not answer: %v", dsn, err)
	}
}

func TestPostgresEnvWins(t *testing.T) {
	dsn := Postgres(t) // skips when there is no server
	env := dsn + " application_name=sessionkit_env"
	if strings.HasPrefix(dsn, "postgres://") {
		env = dsn + "&application_name=sessionkit_env"
	}
	t.Setenv(PostgresEnv, env)
	if got := Postgres(t); got != env {
		t.Errorf("Postgres() = %q, want %q from %s", got, env, PostgresEnv)
	}
}

func TestPostgresEnvUnreachableFails(t *testing.T) {
	t.Setenv(PostgresEnv, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	ft := &pgFakeTB{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf calls runtime.Goexit
		defer close(done)
		Postgres(ft)
	}()
	<-done
	if !ft.failed || !strings.Contains(ft.msg, PostgresEnv) {
		t.Errorf("Postgres with an unreachable %s: failed=%v msg=%q, want a failure naming the variable", PostgresEnv, ft.failed, ft.msg)
	}
}

func TestPostgresTableDropped(t *testing.T) {
	dsn := Postgres(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = PostgresTable(t, dsn)
		if !strings.HasPrefix(name, "sessionkit_test_") {
			t.Errorf("PostgresTable() = %q, want prefix sessionkit_test_", name)
		}
		if other := PostgresTable(t, dsn); other == name {
			t.Errorf("PostgresTable returned %q twice", name)
		}
		if err := pgExec(context.Background(), dsn, "CREATE TABLE "+pgx.Identifier{name}.Sanitize()+" (x int)"); err != nil {
			t.Fatal(err)
		}
	})
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("table %s still exists after the test that created it ended", name)
	}
}

// pgFakeTB records Fatalf instead of failing the real test.
type pgFakeTB struct {
	testing.TB
	failed bool
	msg    string
}

func (f *pgFakeTB) Helper() {}

func (f *pgFakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
