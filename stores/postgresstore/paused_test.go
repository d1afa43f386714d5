package postgresstore

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/postgresstore/internal/pgtest"
)

// TestPausedServer puts a proxy that can hold bytes between the pool and
// PostgreSQL and holds them before a request and in the middle of one, as
// a paused or wedged server would (issue 10: a paused connection hung every
// request for as long as it lasted). The request must get the error
// handler's answer, bounded by the core's store-call deadline (testserver.PausedStoreTimeout), not hang.
func TestPausedServer(t *testing.T) {
	dsn := pgtest.Postgres(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(cfg.ConnConfig.Host, "/") {
		t.Skip("the PostgreSQL server is reached through a unix socket; the holding proxy needs TCP (set SESSIONKIT_POSTGRES_DSN to a TCP DSN)")
	}
	proxy := testserver.NewProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	host, port, _ := net.SplitHostPort(proxy.Addr)
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
	cfg.ConnConfig.Fallbacks = nil
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := newStore(t, pool, dsn, Config{})
	testserver.CheckPausedRequest(t, s, proxy.Hold, proxy.Release)
	testserver.CheckPausedPing(t, s, proxy.Hold, proxy.Release)
}
