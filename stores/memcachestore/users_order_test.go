package memcachestore_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
)

// listWriteFailer fails, once armed, every request that names a user's
// list item after the record under record was written (cas or add): the
// list updates that follow a record write.
type listWriteFailer struct {
	record                []byte // the record's item name
	armed, written, fired atomic.Bool
}

func (f *listWriteFailer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &failingConn{Conn: c, f: f}, nil
}

type failingConn struct {
	net.Conn
	f *listWriteFailer
}

func (c *failingConn) Write(b []byte) (int, error) {
	f := c.f
	if f.armed.Load() {
		switch {
		case bytes.HasPrefix(b, append([]byte("cas "), f.record...)), bytes.HasPrefix(b, append([]byte("add "), f.record...)):
			n, err := c.Conn.Write(b)
			if err == nil {
				f.written.Store(true)
			}
			return n, err
		case f.written.Load() && bytes.Contains(b, []byte("user:")):
			f.fired.Store(true)
			return 0, errors.New("injected: the list's server is unreachable")
		}
	}
	return c.Conn.Write(b)
}

// TestUserIndexListsBeforeWriting fails the list updates that come after
// the record write of a login (CompareAndSwapUser of an anonymous record):
// the record, written and filed under the user, must still be listed, or
// "log out everywhere" would never find it (the core files a record only
// when its filing changes).
func TestUserIndexListsBeforeWriting(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix()
	k := newKey()
	f := &listWriteFailer{record: []byte(prefix + k)}
	client := newClient(testserver.Memcached(t))
	client.DialContext = f.dial
	s, err := memcachestore.New(client, memcachestore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Minute)
	v, err := s.CompareAndSwap(ctx, k, 0, []byte("anonymous"), exp)
	if err != nil {
		t.Fatal(err)
	}
	f.armed.Store(true)
	_, err = s.CompareAndSwapUser(ctx, k, v, []byte("logged in"), exp, "lou", exp)
	f.armed.Store(false)
	if !f.written.Load() || !f.fired.Load() {
		t.Fatalf("record written %v, list update failed %v (%v): the test does not exercise the order", f.written.Load(), f.fired.Load(), err)
	}
	if err == nil {
		t.Error("CompareAndSwapUser = nil although a list update failed, want the error")
	}
	rec, found, lerr := s.Load(ctx, k)
	if lerr != nil || !found || string(rec.Data) != "logged in" {
		t.Fatalf("Load = %q, %v, %v, want the written record", rec.Data, found, lerr)
	}
	checkKeys(t, s, "lou", k)
}

// TestUserIndexFilingsPrune files sessions with an until an hour away into
// one list item, deletes them, and files more into the same item: each
// filing checks a few entries' records, so the deleted sessions' entries
// leave the list long before their until.
func TestUserIndexFilingsPrune(t *testing.T) {
	ctx := context.Background()
	m := userModes(t)[0]
	s, prefix := m.store(t, memcachestore.Config{})
	exp, until := time.Now().Add(time.Minute), time.Now().Add(time.Hour)
	for range 20 {
		k := newKeyIn('c')
		if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "noa", until); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	var live []string
	for range 60 {
		k := newKeyIn('c')
		if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "noa", until); err != nil {
			t.Fatal(err)
		}
		live = append(live, k)
	}
	if n := listLen(t, m.client, prefix, "noa"); n > len(live)+2 {
		t.Errorf("list holds %d entries for %d live sessions after 60 filings: the filings should have dropped (nearly) all 20 deleted ones", n, len(live))
	}
	checkKeys(t, s, "noa", live...)
}
