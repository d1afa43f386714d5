package mysqlstore

import (
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestLoginWithLostReply: the renew's statements run on the server while
// their reply is lost on the way back; see
// testserver.CheckLoginWithLostReply.
func TestLoginWithLostReply(t *testing.T) {
	cfg, err := mysql.ParseDSN(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Net != "tcp" {
		t.Skipf("the test server is not on TCP (%s), so no proxy can stand in front of it", cfg.Net)
	}
	proxy := testserver.NewProxy(t, cfg.Addr)
	db := newDB(t, dbOptions{maxConns: 4, edit: func(c *mysql.Config) { c.Addr = proxy.Addr }})
	testserver.CheckLoginWithLostReply(t, newStore(t, db, Config{}), proxy, core.OpRenew)
}
