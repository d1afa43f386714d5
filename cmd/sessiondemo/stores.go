package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/file"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
	"github.com/sessionkit/sessionkit/stores/memory"
	"github.com/sessionkit/sessionkit/stores/postgresstore"
	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// storeOpener opens the store named by -store and puts it into cfg (as
// cfg.Store, or cfg.ClientStore for client-side sessions). The returned func
// closes it.
type storeOpener func(ctx context.Context, o options, cfg *core.Config) (func(), error)

// serverSide adapts an opener of a server-side store to storeOpener.
func serverSide(open func(ctx context.Context, o options) (core.Store, func(), error)) storeOpener {
	return func(ctx context.Context, o options, cfg *core.Config) (func(), error) {
		st, closeFn, err := open(ctx, o)
		cfg.Store = st
		return closeFn, err
	}
}

// storeOpeners maps -store values to their openers.
var storeOpeners = map[string]storeOpener{
	"memory":   serverSide(openMemory),
	"file":     serverSide(openFile),
	"memcache": serverSide(openMemcache),
	"redis":    serverSide(openRedis),
	"postgres": serverSide(openPostgres),
	"mysql":    serverSide(openMySQL),
	"sqlite":   serverSide(openSQLite),
	"cookie":   openCookie,
}

func openMemory(context.Context, options) (core.Store, func(), error) {
	s := memory.New(memory.Config{})
	return s, func() { _ = s.Close() }, nil
}

// openFile uses -store-addr as the directory (default: a sessionkit folder
// in the system's temporary directory).
func openFile(_ context.Context, o options) (core.Store, func(), error) {
	s, err := file.New(file.Config{Dir: o.storeAddr})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { _ = s.Close() }, nil
}

// openMemcache uses -store-addr, a comma-separated server list.
func openMemcache(_ context.Context, o options) (core.Store, func(), error) {
	addr := o.storeAddr
	if addr == "" {
		addr = "127.0.0.1:11211"
	}
	client := memcache.New(strings.Split(addr, ",")...)
	client.Timeout = 500 * time.Millisecond
	s, err := memcachestore.New(client, memcachestore.Config{})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { _ = client.Close() }, nil
}

// openRedis uses -store-addr: one address, or several for a cluster.
func openRedis(ctx context.Context, o options) (core.Store, func(), error) {
	addr := o.storeAddr
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	client := goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:       strings.Split(addr, ","),
		DialTimeout: 2 * time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		ContextTimeoutEnabled: true, // request deadlines cut Redis calls short
	})
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	s, err := redisstore.New(client, redisstore.Config{})
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	return s, func() { _ = client.Close() }, nil
}

// openPostgres uses -store-dsn and creates the table when it is missing.
func openPostgres(ctx context.Context, o options) (core.Store, func(), error) {
	if o.storeDSN == "" {
		return nil, nil, errors.New("-store-dsn (or SESSIONKIT_STORE_DSN) is required, e.g. postgres://postgres@127.0.0.1:5432/test")
	}
	cfg, err := pgxpool.ParseConfig(o.storeDSN)
	if err != nil {
		return nil, nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// See postgresstore's Timeouts: without one, a connection whose
		// handshake is never answered holds its pool slot for good.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	s, err := postgresstore.New(pool, postgresstore.Config{CleanupInterval: 10 * time.Minute})
	if err == nil {
		err = s.CreateTable(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return s, func() { _ = s.Close(); pool.Close() }, nil
}
