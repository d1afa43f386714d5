package postgresstore

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/postgresstore/internal/pgtest"
)

// TestPausedServer puts a proxy that can hold bytes between the pool and
// PostgreSQL and holds them before a request and in the middle of one, as
// a paused or wedged server would (issue 10: a paused connection hung every
// request for as long as it lasted). The request must get the error
// handler's answer, bounded by the core's store-call deadline (testserver.PausedStoreTimeout), not hang.
func TestPausedServer(t *testing.T) {
	s, proxy := proxiedStore(t)
	testserver.CheckPausedRequest(t, s, proxy.Hold, proxy.Release)
	testserver.CheckPausedPing(t, s, proxy.Hold, proxy.Release)
}

// TestLoginWithLostReply: the renew's statement runs on the server while
// its reply is lost on the way back; see testserver.CheckLoginWithLostReply.
func TestLoginWithLostReply(t *testing.T) {
	s, proxy := proxiedStore(t)
	testserver.CheckLoginWithLostReply(t, s, proxy, core.OpRenew)
}

// proxiedStore returns a Store whose pool reaches the test server through
// a proxy (skipping when the server is reached through a unix socket).
func proxiedStore(t *testing.T) (*Store, *testserver.Proxy) {
	t.Helper()
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
	cfg.ConnConfig.ConnectTimeout = time.Second // as the package doc advises (see Timeouts)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return newStore(t, pool, dsn, Config{}), proxy
}
