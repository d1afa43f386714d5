package mysqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/mysqlstore"
)

// The store needs a running server, so this example has no Output.
func Example() {
	// maxAllowedPacket=0: the driver asks the server for its packet limit,
	// so records up to the store's 16 MiB limit fit.
	db, err := sql.Open("mysql", os.Getenv("MYSQL_DSN")) // e.g. "app:secret@tcp(db:3306)/app?maxAllowedPacket=0"
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := mysqlstore.New(db, mysqlstore.Config{
		TableName:       "sessions",       // default "sessionkit_sessions"
		CleanupInterval: 10 * time.Minute, // janitor deletes expired rows
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateTable(context.Background()); err != nil { // or run Schema's SQL in a migration
		log.Fatal(err)
	}

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
	log.Fatal(http.ListenAndServe(":8080", nethttp.Middleware(m)(mux)))
}

func ExampleSchema() {
	fmt.Print(mysqlstore.Schema("sessions"))
	// Output:
	// CREATE TABLE IF NOT EXISTS `sessions` (
	// 	`key`        CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	// 	`data`       MEDIUMBLOB NOT NULL,
	// 	`expiry`     BIGINT     NOT NULL,
	// 	`version`    BIGINT     NOT NULL,
	// 	`user_hash`  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
	// 	`user_until` BIGINT     NULL,
	// 	PRIMARY KEY (`key`),
	// 	INDEX `expiry_idx` (`expiry`),
	// 	INDEX `user_idx` (`user_hash`),
	// 	CHECK (`version` > 0)
	// ) ENGINE=InnoDB
}
