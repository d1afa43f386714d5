package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"time"

	_ "github.com/go-sql-driver/mysql" // the "mysql" database/sql driver

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/mysqlstore"
	"github.com/sessionkit/sessionkit/stores/sqlitestore"
)

// openMySQL uses -store-dsn (a go-sql-driver/mysql DSN) and creates the
// table when it is missing.
func openMySQL(ctx context.Context, o options) (core.Store, func(), error) {
	if o.storeDSN == "" {
		return nil, nil, errors.New("-store-dsn (or SESSIONKIT_STORE_DSN) is required, e.g. root@tcp(127.0.0.1:3306)/test?maxAllowedPacket=0")
	}
	db, err := sql.Open("mysql", o.storeDSN)
	if err != nil {
		return nil, nil, err
	}
	s, err := mysqlstore.New(db, mysqlstore.Config{CleanupInterval: 10 * time.Minute})
	if err == nil {
		err = s.CreateTable(ctx)
	}
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return s, func() { _ = s.Close(); _ = db.Close() }, nil
}

// openSQLite uses -store-addr as the database file (default: sessionkit.db
// in the system's temporary directory), creating it when it is missing.
func openSQLite(ctx context.Context, o options) (core.Store, func(), error) {
	path := o.storeAddr
	if path == "" {
		path = filepath.Join(os.TempDir(), "sessionkit.db")
	}
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Config{CleanupInterval: 10 * time.Minute})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { _ = s.Close() }, nil
}
