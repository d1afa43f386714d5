package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/core"
)

// maxAllowedPacket returns the test server's max_allowed_packet.
func maxAllowedPacket(t *testing.T, db *sql.DB) int {
	t.Helper()
	var limit int
	if err := db.QueryRow("SELECT @@max_allowed_packet").Scan(&limit); err != nil {
		t.Fatal(err)
	}
	return limit
}

// cutDialer's connections break like a connection the server closes in
// the middle of a large packet: once a connection has written cut bytes,
// its next write fails, having written nothing, with a reset.
type cutDialer struct {
	cut  int64
	cuts atomic.Int64 // connections broken so far
}

func (d *cutDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: conn, d: d}, nil
}

type cutConn struct {
	net.Conn
	d       *cutDialer
	written int64
}

func (c *cutConn) Write(p []byte) (int, error) {
	if c.written+int64(len(p)) > c.d.cut {
		c.d.cuts.Add(1)
		c.Conn.Close()
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
	}
	n, err := c.Conn.Write(p)
	c.written += int64(n)
	return n, err
}

// TestBrokenConnectionOnLargeRecord covers the race that a real server
// makes rare and CI under load made frequent: the server refuses a packet
// over its max_allowed_packet by closing the connection, and the driver,
// still writing, sees a reset instead of the server's error. A write whose
// records exceed the server's limit must then fail with core.ErrTooLarge,
// and one that fits must keep the connection error; either way the stored
// record stays.
func TestBrokenConnectionOnLargeRecord(t *testing.T) {
	limit := maxAllowedPacket(t, newDB(t, dbOptions{}))
	d := &cutDialer{cut: 1 << 20}
	db := newDB(t, dbOptions{dial: d.dial})
	s := newStore(t, db, Config{})
	ctx := context.Background()
	key := testKey("a")
	exp := time.Now().Add(time.Hour)
	if err := s.Save(ctx, key, []byte("before"), exp); err != nil {
		t.Fatal(err)
	}
	rec, _, err := s.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	// Just under the limit with statementOverhead: one record fits, and
	// Renew's, with its one-byte retired record besides, reaches it.
	edge := min(limit-statementOverhead-1, MaxDataSize)
	for _, size := range []int{2 << 20, edge, MaxDataSize} {
		data := make([]byte, size)
		writes := []struct {
			name string
			sent int // bytes of records the write sends
			run  func() error
		}{
			{"Save", size, func() error { return s.Save(ctx, key, data, exp) }},
			{"CompareAndSwap", size, func() error { _, err := s.CompareAndSwap(ctx, key, rec.Version, data, exp); return err }},
			{"CompareAndSwapUser", size, func() error {
				_, err := s.CompareAndSwapUser(ctx, key, rec.Version, data, exp, "alice", exp)
				return err
			}},
			{"Renew", size + 1, func() error {
				_, err := s.Renew(ctx, core.Renewal{OldKey: key, OldVersion: rec.Version, NewKey: testKey("b"),
					Data: data, Expiry: exp, Retired: []byte("r"), RetiredExpiry: exp})
				return err
			}},
		}
		for _, w := range writes {
			t.Run(fmt.Sprintf("%s/%d", w.name, size), func(t *testing.T) {
				wantTooLarge := w.sent+statementOverhead >= limit
				before := d.cuts.Load()
				err := w.run()
				if d.cuts.Load() == before {
					t.Fatalf("%s sent %d bytes without crossing the cut: the test tests nothing", w.name, size)
				}
				if err == nil {
					t.Fatalf("%s over a broken connection = nil", w.name)
				}
				if got := errors.Is(err, core.ErrTooLarge); got != wantTooLarge {
					t.Errorf("%s(%d bytes), server limit %d: errors.Is(%v, ErrTooLarge) = %v, want %v", w.name, size, limit, err, got, wantTooLarge)
				}
				if !errors.Is(err, driver.ErrBadConn) {
					t.Errorf("%s: %v does not wrap the driver's error", w.name, err)
				}
				if got := loadData(t, s, key); got != "before" {
					t.Errorf("after %s failed, Load = %.20q, want %q", w.name, got, "before")
				}
				if got := loadData(t, s, testKey("b")); got != "<none>" {
					t.Errorf("after %s failed, the renewal's key holds %.20q", w.name, got)
				}
			})
		}
	}
}

// TestRefused checks the diagnosis on its own against the server's real
// limit: only a broken connection on records that reach the limit with
// statementOverhead is a refusal, and a limit read in the last limitFresh
// spares the query for records that fit it.
func TestRefused(t *testing.T) {
	c := &commandCounter{}
	db := newDB(t, dbOptions{dial: c.dial})
	limit := maxAllowedPacket(t, db)
	ctx := context.Background()
	reset := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	over, fits := limit-statementOverhead, limit-statementOverhead-1
	for _, tc := range []struct {
		name string
		ctx  context.Context
		size int
		err  error
		want bool
	}{
		{"bad connection, reaching the limit", ctx, over, driver.ErrBadConn, true},
		{"reset over the limit", ctx, limit, fmt.Errorf("save: %w", reset), true},
		{"invalid connection over the limit", ctx, limit, mysql.ErrInvalidConn, true},
		{"bad connection, one byte under", ctx, fits, driver.ErrBadConn, false},
		{"bad connection, small", ctx, 100, driver.ErrBadConn, false},
		{"server error over the limit", ctx, limit, &mysql.MySQLError{Number: 1062}, false},
		{"timeout over the limit", ctx, limit, timeout, false},
		{"deadline over the limit", ctx, limit, context.DeadlineExceeded, false},
		{"context ended", cancelled, limit, driver.ErrBadConn, false},
		{"conflict over the limit", ctx, limit, core.ErrConflict, false},
	} {
		if got := new(packetLimit).refused(tc.ctx, db, tc.size, tc.err); got != tc.want {
			t.Errorf("%s: refused(%d bytes, %v) = %v, want %v (server limit %d)", tc.name, tc.size, tc.err, got, tc.want, limit)
		}
	}

	// The limit read once answers for records that fit it; a record over
	// it asks again (the limit may have been raised).
	p := new(packetLimit)
	diagnose := func(size int, want bool) int64 {
		t.Helper()
		c.reset()
		if got := p.refused(ctx, db, size, driver.ErrBadConn); got != want {
			t.Errorf("refused(%d bytes) = %v, want %v", size, got, want)
		}
		return c.reset()
	}
	if n := diagnose(fits, false); n != 1 {
		t.Errorf("the first diagnosis sent %d commands, want 1 (the limit asked)", n)
	}
	if n := diagnose(fits, false); n != 0 {
		t.Errorf("a record within the limit already read sent %d commands, want none", n)
	}
	if n := diagnose(over, true); n != 1 {
		t.Errorf("a record over the limit already read sent %d commands, want 1 (the limit asked again)", n)
	}
	p.known.Store(&readLimit{limit: int64(limit), at: time.Now().Add(-limitFresh)})
	if n := diagnose(fits, false); n != 1 {
		t.Errorf("a record within a limit read %v ago sent %d commands, want 1 (the limit asked again)", limitFresh, n)
	}

	if new(packetLimit).refused(ctx, unreachableDB(t, false), limit, driver.ErrBadConn) {
		t.Error("refused with no server to ask = true, want false")
	}
	bounded, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if new(packetLimit).refused(bounded, unreachableDB(t, true), limit, driver.ErrBadConn) {
		t.Error("refused with a server that never answers = true, want false")
	}
}
