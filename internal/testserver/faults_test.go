package testserver

import (
	"errors"
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
