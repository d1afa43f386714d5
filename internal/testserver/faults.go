package testserver

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Silent returns the address of a 127.0.0.1 listener that accepts
// connections and never answers, like a hung server. It closes the
// listener and every accepted connection when the test ends.
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Within runs f and fails the test if it does not return within limit: a
// store must return an error, not hang, when its server is gone or silent.
func Within(t testing.TB, limit time.Duration, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("%s did not return within %v: it hangs on a stopped or silent server", what, limit)
		return nil
	}
}

// CheckDownAndBack saves a record through s, stops srv and checks that Load
// and Save fail promptly (within their 2-second deadline, with a margin)
// instead of hanging, then starts srv again and checks that the same store
// value works without being rebuilt. s must be a store on srv.
func CheckDownAndBack(t *testing.T, srv *Server, s core.Store) {
	t.Helper()
	key := core.StoreKey("testserver down and back")
	if err := s.Save(context.Background(), key, []byte("before"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := Within(t, 5*time.Second, "Load", func() error { _, _, err := s.Load(ctx, key); return err }); err == nil {
		t.Error("Load with the server stopped: error = nil, want an error")
	}
	if err := Within(t, 5*time.Second, "Save", func() error {
		return s.Save(ctx, key, []byte("during"), time.Now().Add(time.Minute))
	}); err == nil {
		t.Error("Save with the server stopped: error = nil, want an error")
	}
	srv.Start()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := s.Save(ctx2, key, []byte("after"), time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("Save after restart: %v", err)
	}
	rec, found, err := s.Load(ctx2, key)
	if err != nil || !found || string(rec.Data) != "after" {
		t.Errorf("Load after restart = %q, %v, %v; want %q", rec.Data, found, err, "after")
	}
}
