package bench

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// tripProxy forwards TCP connections to a server and counts round trips:
// on each connection, bytes from the client that follow bytes from the
// server (or open the connection) begin a new one, so a command sent in
// pieces, or commands pipelined before a reply, count once. It works for
// every client library, which is what lets the peers be counted the same
// way as sessionkit.
type tripProxy struct {
	addr   string
	target string
	l      net.Listener
	trips  atomic.Int64
}

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
	var serverSpoke atomic.Bool
	serverSpoke.Store(true)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				serverSpoke.Store(true)
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
// round trips each request kind costs, through a counting proxy in front
// of the server, and logs one line per contender and kind:
//
//	trips <TAB> contender <TAB> scenario <TAB> n
//
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
				if !slicesContains(tripScenarios, sc.name) || sc.follow && c.noRenew {
					continue
				}
				measure := func() int64 {
					cookie := ""
					if sc.seeded {
						cookie = seed(t, tg)
					}
					cl := newClient(tg, sc.path, cookie)
					before := p.trips.Load()
					w := cl.do()
					if w.status() != http.StatusOK {
						t.Fatalf("GET %s: status %d", sc.path, w.status())
					}
					return p.trips.Load() - before
				}
				measure()
				n := measure()
				if again := measure(); again != n {
					t.Errorf("%s: %d round trips, then %d", sc.name, n, again)
				}
				t.Logf("trips\t%s\t%s\t%d", c.name, sc.name, n)
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
