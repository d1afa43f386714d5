package postgresstore_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/postgresstore"
	"github.com/sessionkit/sessionkit/stores/postgresstore/internal/pgtest"
)

// The examples run against the server in SESSIONKIT_POSTGRES_DSN, or the
// local one the tests use.
func TestMain(m *testing.M) {
	os.Exit(testserver.RunWithServer(m, pgtest.PostgresEnv, pgtest.Postgres))
}

// Example wires the PostgreSQL store into an application: a pgx pool, the
// store with its table (CreateTable, or Schema's SQL in a migration), a
// Manager, the net/http middleware.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("SESSIONKIT_POSTGRES_DSN")) // e.g. "postgres://app@db/app"
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := postgresstore.New(pool, postgresstore.Config{
		TableName:       "sessionkit_example", // default "sessionkit_sessions"; "schema.table" works too
		CleanupInterval: 10 * time.Minute,     // the janitor deletes expired rows
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateTable(ctx); err != nil { // idempotent; or run Schema("...") in a migration
		log.Fatal(err)
	}
	m, err := core.New(core.Config{Store: store, IdleTimeout: 30 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	app := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	}))

	srv := httptest.NewServer(app)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	for range 2 {
		resp, err := browser.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// visit 1
	// visit 2
}

func ExampleSchema() {
	fmt.Print(postgresstore.Schema("sessions"))
	// Output:
	// CREATE TABLE IF NOT EXISTS "sessions" (
	// 	key        text        PRIMARY KEY,
	// 	data       bytea       NOT NULL,
	// 	expiry     timestamptz NOT NULL,
	// 	version    bigint      NOT NULL CHECK (version > 0),
	// 	user_hash  text,
	// 	user_until timestamptz
	// );
	// CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);
	// ALTER TABLE "sessions"
	// 	ADD COLUMN IF NOT EXISTS user_hash text,
	// 	ADD COLUMN IF NOT EXISTS user_until timestamptz;
	// CREATE INDEX IF NOT EXISTS "sessions_user_idx" ON "sessions" (user_hash) WHERE user_hash IS NOT NULL;
}
