// Command latency measures request latency under load: for each framework
// (net/http, Gin, Echo) it serves the routes /untouched, /read and /update
// three times on loopback: through sessionkit's middleware on the memory
// store, bare (the same handlers without sessions), and behind the floor
// (below); it drives each with a closed-loop load generator of C
// keep-alive connections (one session per connection), recording every
// request's latency.
//
// Every route answers as a real handler does, with its Content-Type set
// (text/plain) through the framework's own call (w.Header().Set, c.Data,
// c.Blob). A handler that sets no header at all is net/http's cheapest
// path and no real one: the first header set, by a handler or by
// sessionkit's Vary: Cookie, costs net/http the header map and the copy
// it takes of it at WriteHeader (measured here on the bare net/http
// server: 5 allocations and 780 bytes more per request with Content-Type
// set than with no header), which would be charged to sessionkit alone
// against a bare server that never touches its header.
//
// The bare server gets the requests a visitor without a session sends,
// with no Cookie header. A third load, "floor", drives the floor server:
// the bare server behind the least a server-side session middleware
// keeping sessionkit's contract does (see floorMiddleware), with a
// session of its own per connection, so that its requests carry a session
// cookie as sessionkit's do. Its ratio to bare is what no session
// middleware avoids here, the Cookie header's bytes included (net/http
// reads the line into r.Header whatever the server does with it);
// sessionkit's ratio above it is sessionkit's own.
//
// The loads alternate in rounds (bare, floor, sessionkit in odd rounds
// and sessionkit, floor, bare in even ones, so that a drift in the
// machine's load falls on all alike); each round gives one p99 ratio,
// sessionkit's p99 over bare's in that round, and one of the floor's.
// Rounds are many (make bench: 39 of about 50ms per load, in the same
// measured time as 9 of about 220ms): the median of more rounds' ratios
// moves less from run to run, whatever spoils single rounds. Each load
// starts with a garbage collection (runtime.GC, not measured): the p99
// under load is mostly made of the requests a collection slows down, and
// a load's collections are then the ones its own allocations start, not
// one that the load before it left half done, which with loads as short
// as a few collection cycles would shift collections between loads. It
// prints one tab-separated line per framework, route and C: the latencies
// of all rounds pooled, then the median, the least and the greatest of
// the rounds' p99 ratios, the number of rounds, the floor's pooled
// latencies and the median, least and greatest of its p99 ratios to bare,
// then 95% confidence intervals for the medians of sessionkit's and the
// floor's ratios, and the median of the rounds' sessionkit-to-floor p99
// ratios (sessionkit's p99 over the floor's in the same round) with its
// own interval:
//
//	framework  route  conns  bare-p50-µs  bare-p99-µs  session-p50-µs  session-p99-µs  bare-req/s  session-req/s  p99-ratio-median  p99-ratio-min  p99-ratio-max  rounds  floor-p50-µs  floor-p99-µs  floor-req/s  floor-p99-ratio-median  floor-p99-ratio-min  floor-p99-ratio-max  p99-ratio-lo  p99-ratio-hi  floor-p99-ratio-lo  floor-p99-ratio-hi  vs-floor-median  vs-floor-lo  vs-floor-hi
//
// The median of the rounds' ratios is the robust figure: a burst of other
// work on a shared machine spoils a round or two, which the median passes
// over and the pooled p99 does not. A round's p99 is decided by the few
// collections and scheduling stalls that fall into it, so single rounds'
// ratios spread widely (0.5 to 2 is common); the intervals (see
// medianInterval) say how far the medians can be trusted, and the paired
// sessionkit-to-floor ratio whether sessionkit's p99 differs from the
// floor's beyond that noise.
// Servers and generator share the process (and the machine's CPUs), as
// wrk and a server on one machine would.
//
//	latency -d 2s -conns 16,64   (make bench's settings: -rounds 39 -warmup 10ms are the defaults)
//
// -frameworks and -routes narrow the cases; -cpuprofile writes a CPU
// profile of the whole run (every server alike), to see what a case
// costs beyond the bare server:
//
//	latency -frameworks nethttp -routes read -conns 64 -d 8s -rounds 4 -cpuprofile cpu.prof
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/sessionkit/sessionkit/adapters/echosession"
	"github.com/sessionkit/sessionkit/adapters/ginsession"
	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func main() {
	d := flag.Duration("d", 2*time.Second, "measured duration per case")
	warm := flag.Duration("warmup", 10*time.Millisecond, "unmeasured load before each load of a round, after its garbage collection")
	rounds := flag.Int("rounds", 39, "rounds per case: bare, the floor and sessionkit alternate, each for d/rounds, so that a change in the machine's load falls on all three; each round gives two p99 ratios, sessionkit's and the floor's to bare")
	connList := flag.String("conns", "16,64", "comma-separated connection counts")
	fwList := flag.String("frameworks", "nethttp,gin,echo", "comma-separated frameworks")
	routeList := flag.String("routes", "untouched,read,update", "comma-separated routes")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "latency: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "latency: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *rounds < 1 {
		fmt.Fprintf(os.Stderr, "latency: bad -rounds %d\n", *rounds)
		os.Exit(2)
	}
	var conns []int
	for _, s := range strings.Split(*connList, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "latency: bad -conns %q\n", *connList)
			os.Exit(2)
		}
		conns = append(conns, n)
	}
	for _, fw := range strings.Split(*fwList, ",") {
		var srv [3]*server // bare, sessionkit, floor
		for i, kind := range []string{kindBare, kindSession, kindFloor} {
			var err error
			if srv[i], err = start(fw, kind); err != nil {
				fmt.Fprintln(os.Stderr, "latency:", err)
				os.Exit(1)
			}
		}
		bare, sess, floor := srv[0], srv[1], srv[2]
		for _, route := range strings.Split(*routeList, ",") {
			for _, c := range conns {
				per := *d / time.Duration(*rounds)
				ls, lf := newLoader(sess, route, c), newLoader(floor, route, c)
				lb := newLoader(bare, route, c) // no session, no cookie
				// The loads of a round in order; even rounds run it
				// backwards. The ratios are each round's p99 ratios of
				// sessionkit and of the floor to bare.
				loads := []*loader{lb, lf, ls}
				var pooled [3]result
				var p99s [][3]float64
				for i := range *rounds {
					var r [3]result
					for j := range loads {
						if i%2 == 1 {
							j = len(loads) - 1 - j
						}
						r[j] = loads[j].run(*warm, per)
					}
					for j := range r {
						pooled[j] = pooled[j].merge(r[j]) // between rounds, not between loads
					}
					p99s = append(p99s, [3]float64{r[0].p(0.99), r[1].p(0.99), r[2].p(0.99)})
				}
				for _, l := range loads {
					l.close()
				}
				fmt.Println(line(fw, route, c, pooled, summarize(p99s)))
			}
		}
		for _, s := range srv {
			s.close()
		}
	}
}

// median returns the median of sorted values: the middle one, or the mean
// of the two middle ones.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// ratios are the p99 ratios of a case's rounds, each sorted: sessionkit's
// to bare (sess), the floor's to bare (floor), and sessionkit's to the
// floor's (vs), one of each per round.
type ratios struct{ sess, floor, vs []float64 }

// summarize returns the p99 ratios of rounds, each round's p99s of bare,
// the floor and sessionkit (µs, in that order).
func summarize(rounds [][3]float64) ratios {
	var r ratios
	for _, p := range rounds {
		b, f, s := max(p[0], 1), max(p[1], 1), p[2]
		r.sess = append(r.sess, s/b)
		r.floor = append(r.floor, p[1]/b)
		r.vs = append(r.vs, s/f)
	}
	slices.Sort(r.sess)
	slices.Sort(r.floor)
	slices.Sort(r.vs)
	return r
}

// line is a case's line of output (see the package comment): pooled
// holds the latencies of bare, the floor and sessionkit over all rounds.
// The intervals and the paired ratios are printed to four places, so that
// a bound a hair under 1.15 or over 1 does not read as on it.
func line(fw, route string, conns int, pooled [3]result, r ratios) string {
	b, fl, s := pooled[0], pooled[1], pooled[2]
	lo, hi := medianInterval(r.sess)
	flLo, flHi := medianInterval(r.floor)
	vsLo, vsHi := medianInterval(r.vs)
	n := len(r.sess)
	return fmt.Sprintf("%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%d\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f", fw, route, conns,
		b.p(0.50), b.p(0.99), s.p(0.50), s.p(0.99), b.rps, s.rps,
		median(r.sess), r.sess[0], r.sess[n-1], n,
		fl.p(0.50), fl.p(0.99), fl.rps, median(r.floor), r.floor[0], r.floor[n-1],
		lo, hi, flLo, flHi, median(r.vs), vsLo, vsHi)
}

// medianInterval returns a confidence interval of at least 95% for the
// median of what the sorted values sample: the order statistics x(k) and
// x(n+1-k), k the greatest for which P(B < k) ≤ 2.5%, B binomial with n
// trials of one half (the number of values under the true median). It
// assumes nothing of their distribution, only that they are independent:
// each is a round's ratio, and rounds share no load (a drift in the
// machine's load can still make neighbouring rounds alike, and the
// interval then too narrow; the alternating order of a round's loads
// spreads such a drift over bare, the floor and sessionkit). With under six
// values no pair reaches 95%: it returns 0, 0, which the report reads as
// no interval.
func medianInterval(sorted []float64) (lo, hi float64) {
	n := len(sorted)
	if n < 6 {
		return 0, 0
	}
	k, below := 0, 0.0 // below sums P(B = j) for j up to the loop's
	lgn, _ := math.Lgamma(float64(n + 1))
	for j := 0; j < n; j++ {
		lgj, _ := math.Lgamma(float64(j + 1))
		lgr, _ := math.Lgamma(float64(n - j + 1))
		below += math.Exp(lgn - lgj - lgr - float64(n)*math.Ln2) // now P(B ≤ j)
		if below > 0.025 {
			break
		}
		k = j + 1 // P(B < k) ≤ 2.5%
	}
	return sorted[k-1], sorted[n-k] // k ≥ 1: P(B = 0) ≤ 2.5% from n = 6
}

// server is one of the servers of a framework.
type server struct {
	url      string
	sessions bool // its routes keep sessions: each connection gets one (/seed)
	srv      *http.Server
	store    *memory.Store
}

func (s *server) close() {
	_ = s.srv.Shutdown(context.Background())
	if s.store != nil {
		_ = s.store.Close()
	}
}

// The servers of a framework.
const (
	kindBare    = "bare"       // no sessions
	kindSession = "sessionkit" // sessionkit's middleware, memory store
	kindFloor   = "floor"      // the bare server behind floorMiddleware
)

// start serves the routes on a loopback port: bare, through sessionkit,
// or behind the floor (see floorMiddleware).
func start(fw, kind string) (*server, error) {
	var m *core.Manager
	var st *memory.Store
	if kind == kindSession {
		st = memory.New(memory.Config{})
		var err error
		if m, err = core.New(core.Config{Store: st}); err != nil {
			return nil, err
		}
	}
	floor := kind == kindFloor
	var flip atomic.Bool
	ok := []byte("ok")
	const plain = "text/plain; charset=utf-8" // every route's Content-Type
	// floorValues is the floor's session of a request context, and nil
	// on the bare server.
	floorValues := func(ctx context.Context) values {
		if floor {
			return floorOf(ctx)
		}
		return nil
	}
	// The handlers, given the request's session (nil on the bare server).
	seed := func(v values) {
		if v == nil {
			return
		}
		for i := range 10 {
			v.set("k"+strconv.Itoa(i), "value-"+strconv.Itoa(i))
		}
	}
	read := func(v values) []byte {
		if v == nil {
			return []byte("value-3")
		}
		return []byte(v.get("k3"))
	}
	update := func(v values) {
		val := "changed-a"
		if flip.Swap(!flip.Load()) {
			val = "changed-b"
		}
		if v != nil {
			v.set("k3", val)
		}
	}
	var h http.Handler
	switch fw {
	case "nethttp":
		get := func(r *http.Request) values {
			if m == nil {
				return floorValues(r.Context())
			}
			return sessionValues{nethttp.Get(r)}
		}
		text := func(w http.ResponseWriter, body []byte) {
			w.Header().Set("Content-Type", plain)
			_, _ = w.Write(body)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /seed", func(w http.ResponseWriter, r *http.Request) { seed(get(r)); text(w, ok) })
		mux.HandleFunc("GET /untouched", func(w http.ResponseWriter, _ *http.Request) { text(w, ok) })
		mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) { text(w, read(get(r))) })
		mux.HandleFunc("GET /update", func(w http.ResponseWriter, r *http.Request) { update(get(r)); text(w, ok) })
		h = mux
		if m != nil {
			h = nethttp.Middleware(m)(mux)
		}
	case "gin":
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		if m != nil {
			r.Use(ginsession.Middleware(m))
		}
		get := func(c *gin.Context) values {
			if m == nil {
				return floorValues(c.Request.Context())
			}
			return sessionValues{ginsession.Get(c)}
		}
		r.GET("/seed", func(c *gin.Context) { seed(get(c)); c.Data(http.StatusOK, plain, ok) })
		r.GET("/untouched", func(c *gin.Context) { c.Data(http.StatusOK, plain, ok) })
		r.GET("/read", func(c *gin.Context) { c.Data(http.StatusOK, plain, read(get(c))) })
		r.GET("/update", func(c *gin.Context) { update(get(c)); c.Data(http.StatusOK, plain, ok) })
		h = r
	case "echo":
		e := echo.New()
		e.HideBanner, e.HidePort = true, true
		if m != nil {
			e.Use(echosession.Middleware(m))
		}
		get := func(c echo.Context) values {
			if m == nil {
				return floorValues(c.Request().Context())
			}
			return sessionValues{echosession.Get(c)}
		}
		e.GET("/seed", func(c echo.Context) error {
			seed(get(c))
			return c.Blob(http.StatusOK, plain, ok)
		})
		e.GET("/untouched", func(c echo.Context) error { return c.Blob(http.StatusOK, plain, ok) })
		e.GET("/read", func(c echo.Context) error { return c.Blob(http.StatusOK, plain, read(get(c))) })
		e.GET("/update", func(c echo.Context) error {
			update(get(c))
			return c.Blob(http.StatusOK, plain, ok)
		})
		h = e
	default:
		return nil, fmt.Errorf("unknown framework %q (want nethttp, gin or echo)", fw)
	}
	if floor {
		h = floorMiddleware(newFloorStore(), h)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return &server{url: "http://" + l.Addr().String(), sessions: kind != kindBare, srv: srv, store: st}, nil
}

// values is a request's session as the routes use it: sessionkit's
// (sessionValues) or the floor's (*floorSession).
type values interface {
	get(key string) string
	set(key, value string)
}

// sessionValues is a sessionkit session as values (one pointer: it
// allocates nothing as an interface value).
type sessionValues struct{ s *core.Session }

func (v sessionValues) get(key string) string {
	s, _ := core.Value[string](v.s, key)
	return s
}

func (v sessionValues) set(key, value string) { v.s.Set(key, value) }

// result is one case's latencies.
type result struct {
	lat  []time.Duration // sorted
	rps  float64
	d    time.Duration // measured time
	from time.Time     // when the measured time began (of one load)
}

// merge returns the latencies of r and o together.
func (r result) merge(o result) result {
	lat := append(slices.Clone(r.lat), o.lat...)
	slices.Sort(lat)
	d := r.d + o.d
	return result{lat: lat, rps: float64(len(lat)) / d.Seconds(), d: d}
}

// p returns the q-quantile latency in microseconds.
func (r result) p(q float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	i := min(int(q*float64(len(r.lat))), len(r.lat)-1)
	return float64(r.lat[i]) / float64(time.Microsecond)
}

// loader drives one route of one server from conns keep-alive
// connections, each with its own session; its connections and sessions
// last from round to round.
type loader struct {
	url     string
	tr      *http.Transport
	client  *http.Client
	cookies []string // one per connection; "" sends no Cookie header
}

func newLoader(s *server, route string, conns int) *loader {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	l := &loader{url: s.url + "/" + route, tr: tr, client: &http.Client{Transport: tr}, cookies: make([]string, conns)}
	if s.sessions {
		for i := range l.cookies {
			l.cookies[i] = seedCookie(l.client, s.url)
		}
	}
	return l
}

func (l *loader) close() { l.tr.CloseIdleConnections() }

// run loads the route for warm then d and returns the latencies measured
// from then until the requests in flight have ended. It first collects
// garbage, so that the collections during the load are those its own
// allocations start (see the package comment).
func (l *loader) run(warm, d time.Duration) result {
	runtime.GC()
	var (
		mu      sync.Mutex
		all     []time.Duration
		wg      sync.WaitGroup
		measure atomic.Bool
		stop    atomic.Bool
	)
	for _, cookie := range l.cookies {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, l.url, nil)
			if cookie != "" {
				req.Header.Set("Cookie", cookie)
			}
			lat := make([]time.Duration, 0, 1<<12)
			for !stop.Load() {
				t0 := time.Now()
				resp, err := l.client.Do(req)
				if err != nil {
					fmt.Fprintln(os.Stderr, "latency:", err)
					os.Exit(1)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					fmt.Fprintf(os.Stderr, "latency: GET %s: status %d\n", l.url, resp.StatusCode)
					os.Exit(1)
				}
				if measure.Load() {
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	time.Sleep(warm)
	from := time.Now()
	measure.Store(true)
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	// The requests in flight at stop are measured too: the measured time
	// runs until the last of them ends.
	d = time.Since(from)
	slices.Sort(all)
	return result{lat: all, rps: float64(len(all)) / d.Seconds(), d: d, from: from}
}

// seedCookie stores a ten-value session and returns its cookie.
func seedCookie(client *http.Client, url string) string {
	resp, err := client.Get(url + "/seed")
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	fmt.Fprintln(os.Stderr, "latency: GET /seed set no cookie")
	os.Exit(1)
	return ""
}
