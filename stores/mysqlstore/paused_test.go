package mysqlstore

import (
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestPausedServer puts a proxy that can hold bytes between the pool and
// the server and holds them before a request and in the middle of one, as
// a paused or wedged server would. The request must get the error
// handler's answer, bounded by the core's store-call deadline
// (testserver.PausedStoreTimeout), not hang.
func TestPausedServer(t *testing.T) {
	cfg, err := mysql.ParseDSN(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Net != "tcp" {
		t.Skipf("the test server is not on TCP (%s), so no proxy can stand in front of it", cfg.Net)
	}
	proxy := testserver.NewProxy(t, cfg.Addr)
	db := newDB(t, dbOptions{edit: func(c *mysql.Config) { c.Addr = proxy.Addr }})
	s := newStore(t, db, Config{})
	testserver.CheckPausedRequest(t, s, proxy.Hold, proxy.Release)
	testserver.CheckPausedPing(t, s, proxy.Hold, proxy.Release)
}
