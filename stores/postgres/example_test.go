package postgresstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/stores/postgres"
)

// The store needs a running server, so this example has no Output.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := postgresstore.New(pool, postgresstore.Config{
		TableName:       "auth.sessions",  // default "sessionkit_sessions"
		CleanupInterval: 10 * time.Minute, // janitor deletes expired rows
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateTable(ctx); err != nil { // or run Schema's SQL in a migration
		log.Fatal(err)
	}

	key := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	if err := store.Save(ctx, key, []byte("encoded session"), time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	rec, found, err := store.Load(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found, string(rec.Data))
}

func ExampleSchema() {
	fmt.Print(postgresstore.Schema("sessions"))
	// Output:
	// CREATE TABLE IF NOT EXISTS "sessions" (
	// 	key     text        PRIMARY KEY,
	// 	data    bytea       NOT NULL,
	// 	expiry  timestamptz NOT NULL,
	// 	version bigint      NOT NULL CHECK (version > 0)
	// );
	// CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);
}
