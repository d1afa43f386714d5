package mysqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/internal/testserver"
)

// DSNEnv names the environment variable that holds the DSN of the MySQL or
// MariaDB server to test against.
const DSNEnv = "SESSIONKIT_MYSQL_DSN"

// defaultDSN is the local server the tests use when DSNEnv is unset: root
// without a password over TCP, database test (what .ci/run sets up).
const defaultDSN = "root@tcp(127.0.0.1:3306)/test"

// pingTimeout bounds the reachability probe.
const pingTimeout = 3 * time.Second

// found caches the probe of the default server.
var found = sync.OnceValue(func() error { return ping(defaultDSN) })

// ping connects to dsn and pings the server.
func ping(dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	cfg.Timeout = pingTimeout
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	return db.PingContext(ctx)
}

// testDSN returns the DSN of a reachable server: DSNEnv when set (failing t
// if it does not answer), otherwise the local default. When none answers it
// skips t, or fails it if SESSIONKIT_REQUIRE_SERVERS=1.
func testDSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(DSNEnv); dsn != "" {
		if err := ping(dsn); err != nil {
			t.Fatalf("%s is set but the server does not answer: %v", DSNEnv, err)
		}
		return dsn
	}
	if err := found(); err != nil {
		testserver.Unavailable(t, "no MySQL/MariaDB server reachable at %s (%v): set %s to a DSN such as user:password@tcp(host:3306)/dbname, or install mariadb-server",
			defaultDSN, err, DSNEnv)
	}
	return defaultDSN
}

// dbOptions configure newDB.
type dbOptions struct {
	maxConns int
	// dsn, when set, replaces the test server's DSN.
	dsn string
	// dial, when set, replaces the driver's dialer.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// edit, when set, changes the driver configuration.
	edit func(*mysql.Config)
}

// newDB opens a pool on the test server (skipping when there is none),
// closed when the test ends.
func newDB(t testing.TB, o dbOptions) *sql.DB {
	t.Helper()
	dsn := o.dsn
	if dsn == "" {
		dsn = testDSN(t)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = o.dial
	if o.edit != nil {
		o.edit(cfg)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	if o.maxConns > 0 {
		db.SetMaxOpenConns(o.maxConns)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// uniqueTable returns a table name unique to this test and drops that table
// (if the test created it) when the test ends, so parallel test runs on one
// database never collide.
func uniqueTable(t testing.TB) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	name := "sessionkit_test_" + hex.EncodeToString(b[:])
	dsn := testDSN(t)
	t.Cleanup(func() {
		db := newDB(t, dbOptions{dsn: dsn, maxConns: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("drop table %s: %v", name, err)
		}
	})
	return name
}

// newStore returns a Store on a fresh table, created, on db.
func newStore(t testing.TB, db *sql.DB, cfg Config) *Store {
	t.Helper()
	if cfg.TableName == "" {
		cfg.TableName = uniqueTable(t)
	}
	s, err := New(db, cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// testKey returns a valid store key derived from name.
func testKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// loadData returns the data under key, or "<none>".
func loadData(t *testing.T, s *Store, key string) string {
	t.Helper()
	rec, ok, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if !ok {
		return "<none>"
	}
	return string(rec.Data)
}

// commandCounter counts the commands a client sends to the server, one per
// round trip (a MySQL command is a packet with sequence number zero; the
// only command without a reply, COM_STMT_CLOSE, is counted apart).
type commandCounter struct {
	commands, closes atomic.Int64
}

// dial is a driver dialer whose connections count their commands.
func (c *commandCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: c}, nil
}

// reset zeroes the counts and returns the previous number of round trips.
func (c *commandCounter) reset() int64 {
	c.closes.Swap(0)
	return c.commands.Swap(0)
}

// countingConn parses the packet headers the client writes.
type countingConn struct {
	net.Conn
	c       *commandCounter
	header  []byte // a partly written header
	skip    int    // payload bytes of the current packet still to come
	first   bool   // the payload's first byte is still to come
	command bool   // the current packet starts a command
}

const comStmtClose = 0x19

func (cc *countingConn) Write(p []byte) (int, error) {
	for b := p; len(b) > 0; {
		if cc.skip > 0 {
			if cc.first && cc.command {
				if b[0] == comStmtClose {
					cc.c.closes.Add(1)
				} else {
					cc.c.commands.Add(1)
				}
			}
			cc.first = false
			n := min(cc.skip, len(b))
			cc.skip -= n
			b = b[n:]
			continue
		}
		need := 4 - len(cc.header)
		n := min(need, len(b))
		cc.header = append(cc.header, b[:n]...)
		b = b[n:]
		if len(cc.header) == 4 {
			length := int(binary.LittleEndian.Uint32(append(cc.header[:3:3], 0)))
			cc.command = cc.header[3] == 0
			cc.header = cc.header[:0]
			cc.skip, cc.first = length, true
			if length == 0 && cc.command {
				cc.c.commands.Add(1)
			}
		}
	}
	return cc.Conn.Write(p)
}

var errNotFound = errors.New("not found")
