package bench

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tripProxy forwards TCP connections to a server and counts round trips:
// on each connection, bytes from the client that follow bytes from the
// server (or open the connection) begin a new one, so a command sent in
// pieces, or commands pipelined before a reply, count once. It works for
// every client library, which is what lets the peers be counted the same
// way as sessionkit.
//
// trips counts every round trip on every connection (the commands); seq
// only those that began while no other was in flight on any connection
// (the round trips a request waits for one after the other: commands
// sent at once on two connections count once). The proxy holds every
// answer back until tripLatency after its round trip began, as a server
// across a network would: what is in flight at once then does not depend
// on goroutine scheduling next to a server that answers in microseconds.
type tripProxy struct {
	addr     string
	target   string
	l        net.Listener
	trips    atomic.Int64
	seq      atomic.Int64
	inFlight atomic.Int64
}

// tripLatency is the round-trip time the proxy gives every answer.
const tripLatency = time.Millisecond

func newTripProxy(tb testing.TB, target string) *tripProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &tripProxy{addr: l.Addr().String(), target: target, l: l}
	go p.accept()
	tb.Cleanup(func() { _ = l.Close() })
	return p
}

func (p *tripProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *tripProxy) serve(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	var serverSpoke, waiting atomic.Bool
	var sent atomic.Int64 // when the round trip in flight began, Unix ns
	serverSpoke.Store(true)
	done := func() {
		if waiting.Swap(false) {
			p.inFlight.Add(-1)
		}
	}
	go func() {
		defer done()
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				if waiting.Load() {
					time.Sleep(time.Until(time.Unix(0, sent.Load()).Add(tripLatency)))
				}
				serverSpoke.Store(true)
				done()
				if _, werr := c.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		_ = c.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if serverSpoke.Swap(false) {
				p.trips.Add(1)
				sent.Store(time.Now().UnixNano())
				if !waiting.Swap(true) && p.inFlight.Add(1) == 1 {
					p.seq.Add(1)
				}
			}
			if _, werr := s.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = s.Close()
}

// networkStore returns the server kind ("redis" or "memcached") of a
// contender's store, or "".
func networkStore(name string) string {
	switch {
	case strings.HasSuffix(name, "-redis"):
		return "redis"
	case strings.HasSuffix(name, "-memcache"), strings.HasSuffix(name, "-memcached"):
		return "memcached"
	}
	return ""
}

// tripScenarios are the request kinds whose round trips are counted.
var tripScenarios = []string{"untouched", "new", "read", "update", "renew"}

// TestRoundTrips counts, for every contender on a network store, the
// round trips each request kind it serves costs (a floor serves only its
// own), through a counting proxy in front of the server, and logs one
// line per contender and kind:
//
//	trips <TAB> contender <TAB> scenario <TAB> round trips <TAB> commands
//
// (round trips: tripProxy's seq; commands: its trips).
// run.sh collects them for RESULTS.md. Each kind is served once
// unmeasured first (connections open, scripts loaded), then measured
// twice, which must agree.
func TestRoundTrips(t *testing.T) {
	env := map[string]string{"redis": "SESSIONKIT_REDIS_ADDR", "memcached": "SESSIONKIT_MEMCACHE_ADDR"}
	proxies := map[string]*tripProxy{}
	for _, kind := range []string{"redis", "memcached"} {
		p := newTripProxy(t, serverAddr(t, kind))
		t.Setenv(env[kind], p.addr)
		proxies[kind] = p
	}
	for _, c := range contenders() {
		kind := networkStore(c.name)
		if kind == "" {
			continue
		}
		p := proxies[kind]
		t.Run(c.name, func(t *testing.T) {
			tg := c.open(t)
			defer tg.close()
			for _, sc := range scenarios {
				if !slicesContains(tripScenarios, sc.name) || sc.follow && c.noRenew || c.only != nil && !slicesContains(c.only, sc.name) {
					continue
				}
				measure := func() [2]int64 {
					cookie := ""
					if sc.seeded {
						cookie = seed(t, tg)
					}
					cl := newClient(tg, sc.path, cookie)
					before, beforeSeq := p.trips.Load(), p.seq.Load()
					w := cl.do()
					if w.status() != http.StatusOK {
						t.Fatalf("GET %s: status %d", sc.path, w.status())
					}
					return [2]int64{p.seq.Load() - beforeSeq, p.trips.Load() - before}
				}
				measure()
				n := measure()
				if again := measure(); again != n {
					t.Errorf("%s: %d round trips (%d commands), then %d (%d)", sc.name, n[0], n[1], again[0], again[1])
				}
				t.Logf("trips\t%s\t%s\t%d\t%d", c.name, sc.name, n[0], n[1])
			}
		})
	}
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
