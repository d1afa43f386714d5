package memcachestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestRestoreOnlyOverItsMarker: the undo of a renew puts the old record
// back only over this renew's own marker. A key that a logout emptied
// meanwhile stays empty (putting the record back would undo the logout),
// and one that holds anything else keeps it.
func TestRestoreOnlyOverItsMarker(t *testing.T) {
	ctx := context.Background()
	client := memcache.New(testserver.Memcached(t))
	client.Timeout = 500 * time.Millisecond
	var p [6]byte
	_, _ = rand.Read(p[:])
	s, err := New(client, Config{KeyPrefix: "sessionkit-test:" + hex.EncodeToString(p[:]) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	newKey := func() string {
		var b [32]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	exp := time.Now().Add(time.Hour)
	old := renewOld{h: header{version: 7, expiry: exp}, data: []byte("anonymous cart")}
	const mv = 99
	put := func(key string, h header, data []byte) {
		t.Helper()
		if err := client.Set(&memcache.Item{Key: s.prefix + key, Value: encode(h, data), Expiration: expiration(h.expiry, time.Now())}); err != nil {
			t.Fatal(err)
		}
	}
	load := func(key string) (string, uint64, bool) {
		t.Helper()
		rec, ok, err := s.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return string(rec.Data), rec.Version, ok
	}

	marked := newKey()
	put(marked, header{version: mv, expiry: exp, filed: true}, []byte("retired"))
	if err := s.restore(marked, old, mv, false); err != nil {
		t.Fatal(err)
	}
	if data, v, ok := load(marked); !ok || data != "anonymous cart" || v != 7 {
		t.Errorf("over its marker: restore left %v, %q at version %d; want the old record at version 7", ok, data, v)
	}

	emptied := newKey()
	if err := s.restore(emptied, old, mv, false); err != nil {
		t.Fatal(err)
	}
	if data, _, ok := load(emptied); ok {
		t.Errorf("over an emptied key: restore wrote %q; want it left empty", data)
	}

	other := newKey()
	put(other, header{version: 8, expiry: exp}, []byte("someone else's write"))
	if err := s.restore(other, old, mv, true); err != nil {
		t.Fatal(err)
	}
	if data, v, ok := load(other); !ok || data != "someone else's write" || v != 8 {
		t.Errorf("over another write: restore left %v, %q at version %d; want that write, version 8", ok, data, v)
	}

	// The renew's cas got no answer and the old record is still there at
	// the CAS id it was sent with: a late arrival of that cas must fail.
	pending := newKey()
	put(pending, old.h, old.data)
	item, err := client.Get(s.prefix + pending)
	if err != nil {
		t.Fatal(err)
	}
	late := old
	late.casID = item.CasID
	if err := s.restore(pending, late, mv, true); err != nil {
		t.Fatal(err)
	}
	if data, v, ok := load(pending); !ok || data != "anonymous cart" || v != 7 {
		t.Errorf("with a cas pending: restore left %v, %q at version %d; want the old record as it was", ok, data, v)
	}
	item.Value = encode(header{version: mv, expiry: exp}, []byte("retired"))
	if err := client.CompareAndSwap(item); !errors.Is(err, memcache.ErrCASConflict) {
		t.Errorf("the renew's cas arriving after restore = %v, want memcache.ErrCASConflict", err)
	}
}

// TestNotSent: a command whose connection could not be made never reached
// a server (the undo of a renew skips it); one sent to a server that
// never answers may have arrived.
func TestNotSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	item := &memcache.Item{Key: "k", Value: []byte("v")}
	refused := memcache.New(closed)
	refused.Timeout = 200 * time.Millisecond
	if err := refused.Add(item); err == nil || !notSent(err) {
		t.Errorf("Add to a closed port = %v: notSent %v, want an error that was not sent", err, notSent(err))
	}
	silent := memcache.New(testserver.Silent(t))
	silent.Timeout = 200 * time.Millisecond
	if err := silent.Add(item); err == nil || notSent(err) {
		t.Errorf("Add to a server that never answers = %v: notSent %v, want an error that may have been sent", err, notSent(err))
	}
	if notSent(nil) || notSent(memcache.ErrCASConflict) {
		t.Error("notSent is true of a command that was answered")
	}
}
