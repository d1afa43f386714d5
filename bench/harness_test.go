package bench

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// A contender is one session library on one framework and one store,
// serving the scenario routes through its real middleware.
type contender struct {
	name      string // benchmark name, e.g. "sessionkit-nethttp-memory"
	framework string // nethttp, gin or echo: which baseline it is compared with
	memory    bool   // in-process store: the parallel scenarios run too
	noRenew   bool   // the library has no way to issue a new session id
	// only, when set, lists the scenarios measured (a floor measures only
	// the request kind it is the floor of).
	only []string
	open func(tb testing.TB) *target
}

// target is a contender ready to serve: its handler, mounted on the routes
// /untouched, /new, /seed, /read, /update and /renew.
type target struct {
	h      http.Handler
	cookie string // session cookie name
	close  func()
}

// The session every read, update and untouched request presents: ten small
// values, stored by /seed.
var (
	seedKeys   = [10]string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
	seedValues = [10]any{"value-0", 1, "value-2", "value-3", 4, "value-5", 6, "value-7", 8, "value-9"}
	readKey    = "k3"
	readWant   = "value-3"
	// updateValues alternate so that every update really changes the value.
	updateValues = [2]string{"changed-a", "changed-b"}
	okBody       = []byte("ok")
	missBody     = []byte("miss")
)

// nextUpdate returns the value the next update request stores.
func nextUpdate(n *atomic.Uint64) string { return updateValues[n.Add(1)&1] }

// readBody is what the read handlers answer for the value they found.
func readBody(v string) []byte {
	if v == readWant {
		return okBody
	}
	return missBody
}

// respWriter is a reusable http.ResponseWriter that keeps the status, the
// header and the body, so that the benchmark loop itself allocates nothing.
type respWriter struct {
	h    http.Header
	code int
	body []byte
}

func newRespWriter() *respWriter { return &respWriter{h: make(http.Header)} }

func (w *respWriter) Header() http.Header { return w.h }

func (w *respWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *respWriter) reset() {
	clear(w.h)
	w.code = 0
	w.body = w.body[:0]
}

func (w *respWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// cookie returns "name=value" of the last Set-Cookie for name with a
// non-empty value, as a substring of the header (no allocation), or "".
func (w *respWriter) cookie(name string) string {
	found := ""
	for _, line := range w.h["Set-Cookie"] {
		pair, _, _ := strings.Cut(line, ";")
		n, v, ok := strings.Cut(pair, "=")
		if ok && n == name && v != "" && !expires(line) {
			found = pair
		}
	}
	return found
}

// expires reports whether a Set-Cookie line deletes its cookie
// (Max-Age=0 or negative), without allocating.
func expires(line string) bool {
	for i := 0; i+9 <= len(line); i++ {
		if strings.EqualFold(line[i:i+8], "max-age=") && (line[i+8] == '0' || line[i+8] == '-') {
			return true
		}
	}
	return false
}

// client sends requests to a target the way the benchmarks do: a fresh
// shallow copy of a template request per call, into a reused writer.
type client struct {
	t    *target
	tmpl *http.Request
	w    *respWriter
}

func newClient(t *target, path, cookie string) *client {
	tmpl := httptest.NewRequest(http.MethodGet, path, nil)
	tmpl.RemoteAddr = "127.0.0.1:40000"
	tmpl.Header["Cookie"] = []string{cookie}
	if cookie == "" {
		delete(tmpl.Header, "Cookie")
	}
	return &client{t: t, tmpl: tmpl, w: newRespWriter()}
}

// do serves one request and returns the writer holding the response.
func (c *client) do() *respWriter {
	r := new(http.Request)
	*r = *c.tmpl
	c.w.reset()
	c.t.h.ServeHTTP(c.w, r)
	return c.w
}

// setCookie makes later requests present cookie ("name=value").
func (c *client) setCookie(cookie string) {
	if v := c.tmpl.Header["Cookie"]; len(v) == 1 {
		v[0] = cookie
		return
	}
	c.tmpl.Header["Cookie"] = []string{cookie}
}

// seed stores a new ten-value session through the target and returns the
// cookie ("name=value") that presents it.
func seed(tb testing.TB, t *target) string {
	tb.Helper()
	w := newClient(t, "/seed", "").do()
	if w.status() != http.StatusOK {
		tb.Fatalf("GET /seed: status %d, body %q", w.status(), w.body)
	}
	c := w.cookie(t.cookie)
	if c == "" {
		tb.Fatalf("GET /seed: no %s cookie in %q", t.cookie, w.h["Set-Cookie"])
	}
	return c
}

// scenario is one request pattern measured for every contender.
type scenario struct {
	name     string
	path     string
	seeded   bool // present the cookie of a stored ten-value session
	follow   bool // present the cookie of the previous response (renew)
	parallel int  // RunParallel: >0 at this GOMAXPROCS, -1 at the current one (0: not parallel); memory stores only
}

var scenarios = []scenario{
	{name: "untouched", path: "/untouched", seeded: true},
	{name: "new", path: "/new"},
	{name: "read", path: "/read", seeded: true},
	{name: "update", path: "/update", seeded: true},
	{name: "renew", path: "/renew", seeded: true, follow: true},
	{name: "read-par", path: "/read", seeded: true, parallel: -1},
	{name: "read-par1", path: "/read", seeded: true, parallel: 1},
	{name: "update-par", path: "/update", seeded: true, parallel: -1},
}

// runContender runs every scenario that applies to c as sub-benchmarks.
func runContender(b *testing.B, c contender) {
	t := c.open(b)
	b.Cleanup(t.close)
	for _, sc := range scenarios {
		if sc.parallel != 0 && !c.memory || sc.follow && c.noRenew || c.only != nil && !slicesContains(c.only, sc.name) {
			continue
		}
		b.Run(sc.name, func(b *testing.B) {
			if sc.parallel != 0 {
				runParallel(b, t, sc)
			} else {
				runSerial(b, t, sc)
			}
		})
	}
}

func runSerial(b *testing.B, t *target, sc scenario) {
	cookie := ""
	if sc.seeded && t.cookie != "" {
		cookie = seed(b, t)
	}
	cl := newClient(t, sc.path, cookie)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := cl.do()
		if w.code > http.StatusOK {
			b.Fatalf("GET %s: status %d, body %q", sc.path, w.code, w.body)
		}
		if sc.follow && t.cookie != "" {
			c := w.cookie(t.cookie)
			if c == "" {
				b.Fatalf("GET %s: no new %s cookie", sc.path, t.cookie)
			}
			cl.setCookie(c)
		}
	}
}

// runParallel runs the scenario from many goroutines, each with its own
// session, so that a sharded store can serve them side by side.
func runParallel(b *testing.B, t *target, sc scenario) {
	if sc.parallel > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(sc.parallel))
	}
	// One stored session per goroutine, seeded before the clock starts.
	cookies := make([]string, 4*runtime.GOMAXPROCS(0))
	for i := range cookies {
		if sc.seeded && t.cookie != "" {
			cookies[i] = seed(b, t)
		}
	}
	var next, failed atomic.Int32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cl := newClient(t, sc.path, cookies[int(next.Add(1)-1)%len(cookies)])
		for pb.Next() {
			if w := cl.do(); w.code > http.StatusOK {
				failed.Add(1)
			}
		}
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("GET %s: %d requests failed", sc.path, n)
	}
}

// contenders lists every contender, baselines first and the floors next
// to them (run.sh runs them in this order, so a floor is measured close in
// time to the baseline it is compared with).
func contenders() []contender {
	var all []contender
	for _, list := range [][]contender{baselines, floorContenders, newFloorContenders, sessionkitContenders, scsContenders,
		gorillaContenders, ginContribContenders, echoContribContenders} {
		all = append(all, list...)
	}
	return all
}

// BenchmarkScenarios measures every scenario for every contender:
// BenchmarkScenarios/<contender>/<scenario>. run.sh selects one contender
// per run with -bench '^BenchmarkScenarios$/^<contender>$'.
func BenchmarkScenarios(b *testing.B) {
	for _, c := range contenders() {
		b.Run(c.name, func(b *testing.B) { runContender(b, c) })
	}
}
