package mysqlstore

import (
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestPausedServer puts a proxy that can hold bytes between the pool and
// the server and holds them before a request and in the middle of one, as
// a paused or wedged server would. The request must get the error
// handler's answer, bounded by the core's store-call deadline
// (testserver.PausedStoreTimeout), not hang.
func TestPausedServer(t *testing.T) {
	s, proxy := proxiedStore(t, 0)
	testserver.CheckPausedRequest(t, s, proxy.Hold, proxy.Release)
	testserver.CheckPausedPing(t, s, proxy.Hold, proxy.Release)
}

// TestLoginWithLostReply: the renew's statements run on the server while
// their reply is lost on the way back; see
// testserver.CheckLoginWithLostReply.
func TestLoginWithLostReply(t *testing.T) {
	s, proxy := proxiedStore(t, 4)
	testserver.CheckLoginWithLostReply(t, s, proxy, core.OpRenew)
}

// proxiedStore returns a Store whose pool (of at most maxConns
// connections, 0: the default) reaches the test server through a proxy
// (skipping when the server is not on TCP).
func proxiedStore(t *testing.T, maxConns int) (*Store, *testserver.Proxy) {
	t.Helper()
	cfg, err := mysql.ParseDSN(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Net != "tcp" {
		t.Skipf("the test server is not on TCP (%s), so no proxy can stand in front of it", cfg.Net)
	}
	proxy := testserver.NewProxy(t, cfg.Addr)
	db := newDB(t, dbOptions{maxConns: maxConns, edit: func(c *mysql.Config) { c.Addr = proxy.Addr }})
	return newStore(t, db, Config{}), proxy
}
