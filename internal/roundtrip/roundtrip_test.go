package roundtrip

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestMemoryStoreCalls measures the reference store: its calls are the
// round trips a network store with the same capabilities makes. A renew
// is a load and two compare-and-swaps, or with core.Renewer a load and a
// Renew.
func TestMemoryStoreCalls(t *testing.T) {
	st := memory.New(memory.Config{})
	defer st.Close()
	c := NewCalls(st)
	Check(t, c, c.Count, Counts{Untouched: 0, New: 1, Read: 1, Update: 2, Renew: 3})
	r := NewRenewerCalls(st)
	Check(t, r, r.Count, Floor)
}

// extraLoad is a broken store: every CompareAndSwap first loads the record
// again, one round trip more than needed.
type extraLoad struct{ *Calls }

func (e extraLoad) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	if _, _, err := e.Load(ctx, key); err != nil {
		return 0, err
	}
	return e.Calls.CompareAndSwap(ctx, key, version, data, expiry)
}

func (e extraLoad) Touch(ctx context.Context, key string, expiry time.Time) error {
	return e.Calls.Touch(ctx, key, expiry)
}

// TestMeasureSeesAnAddedRoundTrip shows that Check fails a store that adds
// a round trip to its writes.
func TestMeasureSeesAnAddedRoundTrip(t *testing.T) {
	st := memory.New(memory.Config{})
	defer st.Close()
	c := NewCalls(st)
	var s interface {
		core.Store
		core.CompareAndSwapper
		core.Toucher
	} = extraLoad{c}
	got := Measure(t, s, c.Count)
	d := got.Diff(Counts{Untouched: 0, New: 1, Read: 1, Update: 2, Renew: 3})
	for _, want := range []string{"new request: 2 round trips, want 1", "update request: 3 round trips, want 2", "renew request: 5 round trips, want 3"} {
		if !strings.Contains(d, want) {
			t.Errorf("Diff = %q, want it to contain %q", d, want)
		}
	}
	if d := got.Diff(got); d != "" {
		t.Errorf("Diff of equal counts = %q, want \"\"", d)
	}
}

// TestCounter counts exchanges with a line echo server: pieces of one
// request, and requests pipelined before a reply is read, count once.
func TestCounter(t *testing.T) {
	addr := lineEcho(t)
	var c Counter
	conn, err := c.Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	exchange := func(pieces []string, replies int) {
		t.Helper()
		for _, p := range pieces {
			if _, err := conn.Write([]byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		for range replies {
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
	}
	exchange([]string{"a\n"}, 1)
	exchange([]string{"b", "c\n"}, 1)   // one request in two writes
	exchange([]string{"d\n", "e\n"}, 2) // two pipelined requests
	if n := c.Count(); n != 3 {
		t.Errorf("Count() = %d after three exchanges, want 3", n)
	}
}

// TestCounterSequential: two requests sent at once on two connections are
// two round trips but one sequential round trip; sent one after the other's
// answer, two of each.
func TestCounterSequential(t *testing.T) {
	addr := lineEcho(t)
	var c Counter
	var conns [2]net.Conn
	var readers [2]*bufio.Reader
	for i := range conns {
		conn, err := c.Dial(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[i], readers[i] = conn, bufio.NewReader(conn)
	}
	send := func(i int) {
		t.Helper()
		if _, err := conns[i].Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
	}
	receive := func(i int) {
		t.Helper()
		if _, err := readers[i].ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	send(1) // before either answer is read: in flight together
	receive(0)
	receive(1)
	if n, seq := c.Count(), c.Sequential(); n != 2 || seq != 1 {
		t.Errorf("two requests at once: Count %d, Sequential %d; want 2 and 1", n, seq)
	}
	send(0)
	receive(0)
	send(1)
	receive(1)
	if n, seq := c.Count(), c.Sequential(); n != 4 || seq != 3 {
		t.Errorf("then two one after the other: Count %d, Sequential %d; want 4 and 3", n, seq)
	}
	// A connection closed while its request is in flight ends it.
	send(0)
	_ = conns[0].Close()
	send(1)
	receive(1)
	if n, seq := c.Count(), c.Sequential(); n != 6 || seq != 5 {
		t.Errorf("after a close in flight: Count %d, Sequential %d; want 6 and 5", n, seq)
	}
}

// lineEcho returns the address of a server that answers every line it
// reads, on every connection, with the line itself.
func lineEcho(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := conn.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}
