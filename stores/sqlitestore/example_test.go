package sqlitestore_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/sqlitestore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "sessions.db"), sqlitestore.Config{
		CleanupInterval: 10 * time.Minute, // janitor deletes expired rows
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	m, err := core.New(core.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	})
	srv := httptest.NewServer(nethttp.Middleware(m)(mux))
	defer srv.Close()

	var cookie *http.Cookie
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/visit", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		for _, c := range resp.Cookies() {
			cookie = c
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Status, string(body))
	}
	// Output:
	// 200 OK visit 1
	// 200 OK visit 2
	// 200 OK visit 3
}

func ExampleSchema() {
	fmt.Print(sqlitestore.Schema("sessions"))
	// Output:
	// CREATE TABLE IF NOT EXISTS "sessions" (
	// 	key        TEXT    NOT NULL PRIMARY KEY,
	// 	data       BLOB    NOT NULL,
	// 	expiry     INTEGER NOT NULL,
	// 	version    INTEGER NOT NULL CHECK (version > 0),
	// 	user_hash  TEXT,
	// 	user_until INTEGER
	// ) WITHOUT ROWID;
	// CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);
	// CREATE INDEX IF NOT EXISTS "sessions_user_idx" ON "sessions" (user_hash) WHERE user_hash IS NOT NULL;
}
