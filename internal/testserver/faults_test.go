package testserver

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestSilentAcceptsAndNeverAnswers(t *testing.T) {
	c, err := net.DialTimeout("tcp", Silent(t), time.Second)
	if err != nil {
		t.Fatalf("dial the silent listener: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	n, err := c.Read(make([]byte, 16))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read from the silent server = %d bytes, %v; want nothing until the deadline", n, err)
	}
}

func TestWithinReturnsTheError(t *testing.T) {
	want := errors.New("boom")
	if got := Within(t, time.Second, "f", func() error { return want }); got != want {
		t.Errorf("Within = %v, want f's error", got)
	}
}

func TestProxyKillHoldRelease(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	p := NewProxy(t, echo.Addr().String())
	// roundTrip waits at most d: long for one that must pass on a loaded
	// machine, short for one that must time out.
	roundTrip := func(c net.Conn, d time.Duration) error {
		_ = c.SetDeadline(time.Now().Add(d))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err := io.ReadFull(c, buf)
		return err
	}
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, 5*time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Hold()
	if err := roundTrip(c, 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("while paused: %v, want a timeout", err)
	}
	p.Release()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Errorf("after Release the held data = %q, %v; want it delivered", buf, err)
	}
	p.Kill()
	if err := roundTrip(c, 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("after Kill: %v, want the connection closed", err)
	}
	if c2, err := net.Dial("tcp", p.Addr); err == nil {
		if err := roundTrip(c2, 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("new connection while killed: %v, want it closed", err)
		}
		c2.Close()
	}
	p.Release()
	c3, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := roundTrip(c3, 5*time.Second); err != nil {
		t.Errorf("after Release: %v", err)
	}
}

// TestProxyHoldReleasedAtCleanup: a proxy still held when its test ends is
// released by the cleanup Hold registered, before the cleanups registered
// earlier (here one that needs bytes to flow, as a store's Close may).
func TestProxyHoldReleasedAtCleanup(t *testing.T) {
	var p *Proxy
	flowing := false
	t.Run("held", func(t *testing.T) {
		p = NewProxy(t, "127.0.0.1:1") // no connection is made
		t.Cleanup(func() {
			p.mu.Lock()
			flowing = !p.held
			p.mu.Unlock()
		})
		p.Hold()
	})
	if !flowing {
		t.Error("the proxy was still held when the cleanups registered before Hold ran")
	}
}
