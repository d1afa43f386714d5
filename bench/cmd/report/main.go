// Command report turns benchstat's CSV summary of the bench module's
// benchmarks, the round-trip counts, the latency and load tests and
// modules.sh's store data into RESULTS.md: issue 15's target table (every
// verdict computed from the run's numbers), issue 6's, one table per
// scenario (contender × ns/op, B/op, allocs/op and the ratio to the
// framework's bare handler), the footprint, seal/open and load-test
// tables. run.sh calls it; see there for the inputs.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// stat is benchstat's summary of one benchmark in one unit.
type stat struct {
	v  float64
	ci string // "±3%", or "" when benchstat had too few samples
}

// results maps benchmark name (without the -GOMAXPROCS suffix) to unit to stat.
type results map[string]map[string]stat

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseCSV reads `benchstat -format csv` output of a single input.
func parseCSV(r io.Reader) (results, error) {
	res := results{}
	unit := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) < 2 {
			continue
		}
		if f[0] == "" {
			if len(f) >= 3 && f[2] == "CI" {
				unit = f[1]
			}
			continue
		}
		if unit == "" || f[0] == "geomean" {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		ci := ""
		if len(f) >= 3 && f[2] != "∞" && f[2] != "" {
			ci = "±" + f[2]
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		if res[name] == nil {
			res[name] = map[string]stat{}
		}
		res[name][unit] = stat{v, ci}
	}
	return res, sc.Err()
}

// contender is a parsed contender name: library-framework[-store].
type contender struct{ name, lib, framework, store string }

func parseContender(name string) contender {
	p := strings.SplitN(name, "-", 3)
	c := contender{name: name, lib: p[0]}
	if len(p) > 1 {
		c.framework = p[1]
	}
	if len(p) > 2 {
		c.store = p[2]
	}
	return c
}

// isPeer reports whether c is a peer library: not sessionkit, not a bare
// baseline and not a floor (a bare server with the least a middleware must
// do, see bench/floors_test.go).
func (c contender) isPeer() bool {
	return c.lib != "sessionkit" && c.lib != "baseline" && c.lib != "floor"
}

// class groups stores that do comparable work: in-process (memory and
// client-side cookies, the file system) or a network server.
func (c contender) class() string {
	switch c.store {
	case "redis":
		return "redis"
	case "memcache", "memcached":
		return "memcache"
	}
	return "local"
}

var scenarioOrder = []string{"untouched", "new", "read", "update", "renew", "read-par", "read-par1", "update-par"}

var scenarioDoc = map[string]string{
	"untouched":  "middleware installed, the handler never touches the session (the client presents a stored 10-value session)",
	"new":        "no cookie; the handler sets one value (a new session is stored and its cookie sent)",
	"read":       "cookie of a stored 10-value session; the handler reads one value",
	"update":     "cookie of a stored 10-value session; the handler changes one value",
	"renew":      "login: a new session id for the 10-value session plus one value set; the next request presents the new cookie",
	"read-par":   "read from parallel goroutines (GOMAXPROCS = all CPUs), one session per goroutine, in-process stores only",
	"read-par1":  "read-par at GOMAXPROCS=1, for the scaling ratio",
	"update-par": "update from parallel goroutines, one session per goroutine, in-process stores only",
}

type report struct {
	res         results
	contenders  []contender // in first-seen order
	byScenario  map[string]map[string]bool
	load        [][3]string
	trips       trips
	latency     []latency
	modules     modules
	out         io.Writer
	machineInfo string
}

func main() {
	statsPath := flag.String("stats", "", "benchstat -format csv output")
	textPath := flag.String("text", "", "benchstat text output, appended in full")
	loadPath := flag.String("load", "", "load test results: framework<TAB>case<TAB>requests/s lines")
	machine := flag.String("machine", "", "machine and run description (markdown)")
	outPath := flag.String("o", "RESULTS.md", "output file")
	tripsPath := flag.String("trips", "", "round trips: go test -v output of TestRoundTrips")
	latencyPath := flag.String("latency", "", "bench/cmd/latency output")
	modulesDir := flag.String("modules", "", "directory of bench/modules.sh's data files (trips-*.txt, contention-*.txt)")
	extraPath := flag.String("extra", "", "markdown appended before the benchstat output (bench/modules.sh's sections)")
	flag.Parse()
	if err := run(*statsPath, *textPath, *loadPath, *tripsPath, *latencyPath, *modulesDir, *extraPath, *machine, *outPath); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(statsPath, textPath, loadPath, tripsPath, latencyPath, modulesDir, extraPath, machine, outPath string) error {
	f, err := os.Open(statsPath)
	if err != nil {
		return err
	}
	res, err := parseCSV(f)
	f.Close()
	if err != nil {
		return err
	}
	rp := &report{res: res, byScenario: map[string]map[string]bool{}, machineInfo: machine}
	rp.index()
	if loadPath != "" {
		if rp.load, err = readLoad(loadPath); err != nil {
			return err
		}
	}
	if tripsPath != "" {
		if rp.trips, err = readTrips(tripsPath); err != nil {
			return err
		}
	}
	if latencyPath != "" {
		if rp.latency, err = readLatency(latencyPath); err != nil {
			return err
		}
	}
	if modulesDir != "" {
		if rp.modules, err = readModules(modulesDir); err != nil {
			return err
		}
	}
	var sb strings.Builder
	rp.out = &sb
	rp.write()
	if extraPath != "" {
		extra, err := os.ReadFile(extraPath)
		if err != nil {
			return err
		}
		sb.Write(extra)
	}
	if textPath != "" {
		text, err := os.ReadFile(textPath)
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "\n## benchstat output\n\n<details><summary>full benchstat summary</summary>\n\n```\n%s```\n</details>\n", text)
	}
	return os.WriteFile(outPath, []byte(sb.String()), 0o644)
}

// index lists the contenders and which scenarios each has, from the
// Scenarios/<contender>/<scenario> benchmark names.
func (rp *report) index() {
	names := make([]string, 0, len(rp.res))
	for n := range rp.res {
		names = append(names, n)
	}
	slices.Sort(names)
	seen := map[string]bool{}
	for _, n := range names {
		p := strings.Split(n, "/")
		if len(p) != 3 || p[0] != "Scenarios" {
			continue
		}
		if !seen[p[1]] {
			seen[p[1]] = true
			rp.contenders = append(rp.contenders, parseContender(p[1]))
		}
		if rp.byScenario[p[2]] == nil {
			rp.byScenario[p[2]] = map[string]bool{}
		}
		rp.byScenario[p[2]][p[1]] = true
	}
	rank := func(c contender) int {
		switch c.lib {
		case "baseline":
			return 0
		case "floor":
			return 1
		case "sessionkit":
			return 2
		}
		return 3
	}
	slices.SortStableFunc(rp.contenders, func(a, b contender) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.name, b.name)
	})
}

func readLoad(path string) ([][3]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows [][3]string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 {
			rows = append(rows, [3]string{f[0], f[1], f[2]})
		}
	}
	return rows, nil
}

// get returns the stat of benchmark Scenarios/c/sc in unit, if measured.
func (rp *report) get(c, sc, unit string) (stat, bool) {
	s, ok := rp.res["Scenarios/"+c+"/"+sc][unit]
	return s, ok
}

func (rp *report) write() {
	w := rp.out
	fmt.Fprintf(w, "# sessionkit benchmarks against peer libraries\n\n")
	fmt.Fprintf(w, "Generated by `make bench` (bench/run.sh).\n\n%s\n\n", rp.machineInfo)
	fmt.Fprintf(w, "Every contender serves the same routes through its real middleware (httptest-style, in process, a reused "+
		"ResponseWriter). ns/op, B/op and allocs/op are benchstat medians; ±x%% is benchstat's 95%% confidence interval. "+
		"\"× base\" is the contender's time over the bare handler of the same framework (baseline-*); "+
		"\"+ns\" and \"+allocs\" are what the session adds over that baseline. floor-* are no library: the bare server of a framework "+
		"behind a middleware that does only what no session middleware can avoid (floor-*-withcontext, floor-echo-noopmw) or, "+
		"floor-*-hook, what no middleware keeping sessionkit's contract can avoid (bench/floors_test.go), measured for the "+
		"untouched request; Floor/* (in the benchstat output) are bare store round trips. The machine is shared and noisy: "+
		"compare within one table, not across runs.\n\n")
	rp.writeIssue15()
	rp.writeTargets()
	for _, sc := range scenarioOrder {
		if len(rp.byScenario[sc]) == 0 {
			continue
		}
		rp.writeScenario(sc)
	}
	rp.writeFootprint()
	rp.writeSeal()
	rp.writeLoad()
}

func fmtNs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

func (rp *report) writeScenario(sc string) {
	w := rp.out
	fmt.Fprintf(w, "## %s\n\n%s.\n\n", sc, scenarioDoc[sc])
	fmt.Fprintf(w, "| contender | ns/op | B/op | allocs/op | × base | +ns | +allocs |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range rp.contenders {
		if !rp.byScenario[sc][c.name] {
			continue
		}
		t, _ := rp.get(c.name, sc, "sec/op")
		b, _ := rp.get(c.name, sc, "B/op")
		a, _ := rp.get(c.name, sc, "allocs/op")
		ratio, addNs, addAllocs := "", "", ""
		if base, ok := rp.get("baseline-"+c.framework, sc, "sec/op"); ok && c.lib != "baseline" {
			ba, _ := rp.get("baseline-"+c.framework, sc, "allocs/op")
			ratio = fmt.Sprintf("%.1f", t.v/base.v)
			addNs = fmtNs(math.Max(0, (t.v-base.v)*1e9))
			addAllocs = fmt.Sprintf("%.0f", a.v-ba.v)
		}
		name := c.name
		if c.lib == "sessionkit" {
			name = "**" + name + "**"
		}
		fmt.Fprintf(w, "| %s | %s %s | %.0f | %.0f | %s | %s | %s |\n", name, fmtNs(t.v*1e9), t.ci, b.v, a.v, ratio, addNs, addAllocs)
	}
	fmt.Fprintln(w)
}

// added returns what contender c adds over its framework's baseline in sc.
func (rp *report) added(c contender, sc string) (ns, allocs float64, ok bool) {
	t, ok1 := rp.get(c.name, sc, "sec/op")
	a, ok2 := rp.get(c.name, sc, "allocs/op")
	bt, ok3 := rp.get("baseline-"+c.framework, sc, "sec/op")
	ba, ok4 := rp.get("baseline-"+c.framework, sc, "allocs/op")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, 0, false
	}
	return math.Max(0, (t.v-bt.v)*1e9), math.Max(0, a.v-ba.v), true
}

// writeTargets checks issue 6's targets for every sessionkit contender
// against the fastest peer on the same framework and the same kind of store.
func (rp *report) writeTargets() {
	w := rp.out
	fmt.Fprintf(w, "## Targets (issue 6)\n\n")
	fmt.Fprintf(w, "Per scenario and framework, against the fastest peer on the same framework with the same kind of store "+
		"(in-process: memory, cookie, file system; or the same network server): sessionkit's added time at most half of that "+
		"peer's, and on read and update at most a tenth of its added allocations; untouched: at most one allocation.\n\n")
	fmt.Fprintf(w, "| sessionkit contender | scenario | sessionkit +ns | fastest peer | peer +ns | time target | sessionkit +allocs | peer +allocs | alloc target |\n")
	fmt.Fprintf(w, "|---|---|--:|---|--:|---|--:|--:|---|\n")
	met, total := 0, 0
	for _, k := range rp.contenders {
		if k.lib != "sessionkit" {
			continue
		}
		for _, sc := range []string{"untouched", "new", "read", "update", "renew"} {
			kns, kal, ok := rp.added(k, sc)
			if !ok {
				continue
			}
			var best contender
			bestNs, bestAl := math.Inf(1), 0.0
			for _, p := range rp.contenders {
				if !p.isPeer() || p.framework != k.framework || p.class() != k.class() {
					continue
				}
				if sc == "untouched" && !p.hasMiddleware() {
					continue
				}
				if pns, pal, ok := rp.added(p, sc); ok && pns < bestNs {
					best, bestNs, bestAl = p, pns, pal
				}
			}
			timeV, allocV := "", ""
			if best.name != "" {
				total++
				if kns <= bestNs/2 {
					timeV = "met"
					met++
				} else {
					timeV = fmt.Sprintf("**not met** (%.2f× peer)", kns/math.Max(bestNs, 1))
				}
			}
			if sc == "read" || sc == "update" {
				if best.name != "" {
					total++
					if kal <= bestAl/10 {
						allocV = "met"
						met++
					} else {
						allocV = "**not met**"
					}
				}
			}
			if sc == "untouched" {
				total++
				if kal <= 1 {
					allocV = "met (≤ 1)"
					met++
				} else {
					allocV = fmt.Sprintf("**not met** (%.0f > 1)", kal)
				}
			}
			peerName, peerNs, peerAl := "—", "—", "—"
			if best.name != "" {
				peerName, peerNs, peerAl = best.name, fmtNs(bestNs), fmt.Sprintf("%.0f", bestAl)
			} else {
				timeV = "no peer with this store"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.0f | %s | %s |\n", k.name, sc, fmtNs(kns), peerName, peerNs, timeV, kal, peerAl, allocV)
		}
	}
	fmt.Fprintf(w, "\n%d of %d checks met. On untouched, gorilla/sessions is no peer: it has no middleware, so its untouched "+
		"cost is zero by construction (it does nothing until the handler calls store.Get). \"+ns\" is clamped at zero when a "+
		"contender measured faster than its baseline (noise).\n\n", met, total)
	rp.writeScaling()
}

func (rp *report) writeScaling() {
	w := rp.out
	fmt.Fprintf(w, "Parallel read scaling on the in-process stores, one session per goroutine: read is one goroutine "+
		"(on one CPU, as every scenario), read-par as many goroutines as CPUs and read-par1 the same at GOMAXPROCS=1, "+
		"both in the same process on the whole machine. speed-up = read-par1 / read-par "+
		"(2.0 would be perfect on 2 CPUs; on a machine oversubscribed by other work it falls towards 1 for everyone).\n\n")
	fmt.Fprintf(w, "| contender | read | read-par1 | read-par | speed-up |\n|---|--:|--:|--:|--:|\n")
	for _, c := range rp.contenders {
		one, ok0 := rp.get(c.name, "read", "sec/op")
		p1, ok1 := rp.get(c.name, "read-par1", "sec/op")
		all, ok2 := rp.get(c.name, "read-par", "sec/op")
		if ok0 && ok1 && ok2 {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f |\n", c.name, fmtNs(one.v*1e9), fmtNs(p1.v*1e9), fmtNs(all.v*1e9), p1.v/all.v)
		}
	}
	fmt.Fprintln(w)
}

func (rp *report) writeFootprint() {
	w := rp.out
	var names []string
	for n := range rp.res {
		if strings.HasPrefix(n, "Footprint/") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	fmt.Fprintf(w, "## Memory footprint\n\nLive heap per stored session after storing 1,000,000 sessions of ten small values "+
		"through the middleware (100,000 for gincontrib's quasoft/memstore, at 1.2 kB each) (runtime.ReadMemStats after GC, "+
		"before and after).\n\n| store | heap B/session |\n|---|--:|\n")
	for _, n := range names {
		fmt.Fprintf(w, "| %s | %.0f |\n", strings.TrimPrefix(n, "Footprint/"), rp.res[n]["heapB/session"].v)
	}
	fmt.Fprintln(w)
}

func (rp *report) writeSeal() {
	w := rp.out
	fmt.Fprintf(w, "## Client-side sealing\n\nTen values, serialisation included: sessionkit's binary codec + AES-256-GCM "+
		"against gorilla/securecookie's gob + AES-CTR + HMAC-SHA256.\n\n| benchmark | ns/op | B/op | allocs/op |\n|---|--:|--:|--:|\n")
	for _, n := range []string{"sessionkit-cookie/seal", "securecookie/seal", "sessionkit-cookie/open", "securecookie/open"} {
		r, ok := rp.res["Seal/"+n]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "| %s | %s %s | %.0f | %.0f |\n", n, fmtNs(r["sec/op"].v*1e9), r["sec/op"].ci, r["B/op"].v, r["allocs/op"].v)
	}
	fmt.Fprintln(w)
}

func (rp *report) writeLoad() {
	if len(rp.load) == 0 {
		return
	}
	w := rp.out
	fmt.Fprintf(w, "## Load test\n\nwrk over loopback against the demo (`cmd/sessiondemo`, memory store) and against a bare server "+
		"with the same routes and no sessions (`bench/cmd/bareserver`). bare: GET /api/whoami on the bare server; "+
		"session-read: GET /api/whoami with the cookie of a logged-in session; session-new: GET /api/count without a cookie "+
		"(a new session stored per request).\n\n| framework | case | requests/s |\n|---|---|--:|\n")
	for _, r := range rp.load {
		fmt.Fprintf(w, "| %s | %s | %s |\n", r[0], r[1], r[2])
	}
	fmt.Fprintln(w)
}
