package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// trips maps contender to scenario to store round trips per request (from
// the bench module's TestRoundTrips), and scenario + cmdSuffix to its
// commands when they were counted too.
type trips map[string]map[string]int

// cmdSuffix marks the commands of a scenario in a trips map: more than its
// round trips when some were sent at once on several connections.
const cmdSuffix = " commands"

// readTrips reads "trips<TAB>contender<TAB>scenario<TAB>n[<TAB>commands]"
// lines, ignoring anything else (the lines come from go test -v output).
func readTrips(path string) (trips, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := trips{}
	for _, line := range strings.Split(string(data), "\n") {
		_, rest, ok := strings.Cut(line, "trips\t")
		if !ok {
			continue
		}
		f := strings.Split(strings.TrimSpace(rest), "\t")
		if len(f) != 3 && len(f) != 4 {
			continue
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		if t[f[0]] == nil {
			t[f[0]] = map[string]int{}
		}
		t[f[0]][f[1]] = n
		if len(f) == 4 {
			if c, err := strconv.Atoi(f[3]); err == nil {
				t[f[0]][f[1]+cmdSuffix] = c
			}
		}
	}
	return t, nil
}

// latency is one line of bench/cmd/latency's output.
type latency struct {
	framework, route                                     string
	conns                                                int
	bareP50, bareP99, sessP50, sessP99, bareRPS, sessRPS float64
	// The median, least and greatest of the rounds' p99 ratios (each
	// round's sessionkit p99 over its bare p99), over rounds rounds; 0
	// rounds in the older nine-column output.
	ratioMed, ratioMin, ratioMax float64
	rounds                       int
	// The floor server's pooled latencies and rate (the least a session
	// middleware keeping sessionkit's contract does: bench/cmd/latency's
	// floorMiddleware), and the median, least and greatest of the rounds'
	// p99 ratios of the floor to bare (0 in the older outputs).
	floorP50, floorP99, floorRPS, floorRatio, floorMin, floorMax float64
	// 95% confidence intervals for the medians of sessionkit's and the
	// floor's ratios to bare, and the median of the rounds' ratios of
	// sessionkit's p99 to the floor's (paired by round) with its own
	// interval (0 in the older outputs).
	ratioLo, ratioHi, floorLo, floorHi, vsFloor, vsFloorLo, vsFloorHi float64
}

// intervals reports whether the line carried the 95% intervals and the
// paired ratio (26 columns, from six rounds up): the latency verdict then
// takes them into account.
func (l latency) intervals() bool { return l.vsFloorHi > 0 }

// span formats an interval of ratios compared with limit (see fmtRatio).
func span(lo, hi, limit float64) string { return fmtRatio(lo, limit) + "–" + fmtRatio(hi, limit) }

// ratio is the p99 ratio the target is checked on: the median of the
// rounds' ratios, or the pooled one when the rounds were not reported.
func (l latency) ratio() float64 {
	if l.rounds > 0 {
		return l.ratioMed
	}
	return l.sessP99 / math.Max(l.bareP99, 1)
}

func readLatency(path string) ([]latency, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []latency
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 9 && len(f) != 13 && len(f) != 19 && len(f) != 26 {
			return nil, fmt.Errorf("%s:%d: %d columns, want 9, 13, 19 or 26 (bench/cmd/latency's output)", path, i+1, len(f))
		}
		var l latency
		l.framework, l.route = f[0], f[1]
		l.conns, _ = strconv.Atoi(f[2])
		v := make([]float64, len(f)-3)
		for j := range v {
			var err error
			if v[j], err = strconv.ParseFloat(f[3+j], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: column %d: %w", path, i+1, 4+j, err)
			}
		}
		l.bareP50, l.bareP99, l.sessP50, l.sessP99, l.bareRPS, l.sessRPS = v[0], v[1], v[2], v[3], v[4], v[5]
		if len(v) >= 10 {
			l.ratioMed, l.ratioMin, l.ratioMax, l.rounds = v[6], v[7], v[8], int(v[9])
		}
		if len(v) >= 16 {
			l.floorP50, l.floorP99, l.floorRPS, l.floorRatio, l.floorMin, l.floorMax = v[10], v[11], v[12], v[13], v[14], v[15]
		}
		if len(v) == 23 {
			l.ratioLo, l.ratioHi, l.floorLo, l.floorHi, l.vsFloor, l.vsFloorLo, l.vsFloorHi = v[16], v[17], v[18], v[19], v[20], v[21], v[22]
		}
		rows = append(rows, l)
	}
	return rows, nil
}

// tripsFloor is issue 15's round-trip target per request kind.
var tripsFloor = map[string]int{"untouched": 0, "new": 1, "read": 1, "update": 2, "renew": 2}

// storeOrder lists sessionkit's server stores, in the order of the table,
// with the bench class of the peers on the same server ("" for none).
var storeOrder = []struct{ name, class string }{
	{"memcachestore", "memcache"}, {"redisstore", "redis"}, {"postgresstore", ""}, {"mysqlstore", ""}, {"sqlitestore", ""},
}

// tripsNote says what stands in the way of a round-trip count above the
// floor, from the measured count alone; "" when nothing is known.
func tripsNote(kind string, n int) string {
	if kind == "renew" && n == tripsFloor[kind]+1 {
		return "the load and two writes, the successor's and the old record's retirement (core.Renewer does both in one)"
	}
	return ""
}

// fmtTrips formats the counts of the request kinds in tripScenarioOrder.
func fmtTrips(m map[string]int) string {
	var parts []string
	for _, sc := range tripScenarioOrder {
		if _, ok := m[sc]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", sc, fmtTripCount(m, sc)))
		}
	}
	return strings.Join(parts, ", ")
}

// fmtTripCount formats the round trips of scenario sc in m, with its
// commands when there were more.
func fmtTripCount(m map[string]int, sc string) string {
	n := m[sc]
	if c, ok := m[sc+cmdSuffix]; ok && c != n {
		return fmt.Sprintf("%d (%d commands)", n, c)
	}
	return strconv.Itoa(n)
}

// storeKind is the kind of store a contender keeps its sessions in, for the
// new-session target: memory, cookie, file, redis or memcache.
func (c contender) storeKind() string {
	switch c.store {
	case "memory", "memstore":
		return "memory"
	case "filesystem", "file":
		return "file"
	case "memcached":
		return "memcache"
	}
	return c.store
}

// hasMiddleware reports whether a peer does work on every request before
// the handler runs: gorilla/sessions has no middleware (it does nothing
// until the handler calls store.Get), so its untouched request costs
// nothing by construction and is no comparison.
func (c contender) hasMiddleware() bool { return c.lib != "gorilla" }

// issue15 counts the rows of the target table.
type issue15 struct {
	w                         io.Writer
	met, floors, noise, total int
}

// notMet says how many rows are not met, and how many of them within
// noise (noiseVerdict).
func (t *issue15) notMet() string {
	n := t.total - t.met - t.floors
	if n == 0 {
		return "No row is not met."
	}
	return fmt.Sprintf("%d not met, %d of them within noise: the floor's measurement is under the target but reaches it "+
		"within the run's noise (on latency, with sessionkit's p99 not over the floor's beyond it), so that the run cannot "+
		"tell whether the floor stops them.", n, t.noise)
}

// floorVerdict begins the verdict of a row that a floor measured in the
// same run stops: the floor alone already exceeds the target.
const floorVerdict = "**floor**"

// noiseVerdict begins the verdict of a row that is not met while the
// floor's measurement is under the target but reaches it within the run's
// noise (on latency, with sessionkit's p99 not over the floor's beyond
// it): the run cannot tell whether the floor stops the row. It counts as
// not met.
const noiseVerdict = "**not met** (within noise"

func (t *issue15) row(target, who, measured, verdict string) {
	if !strings.HasPrefix(verdict, "—") {
		t.total++
		if strings.HasPrefix(verdict, "met") {
			t.met++
		}
		if strings.HasPrefix(verdict, floorVerdict) {
			t.floors++
		}
		if strings.HasPrefix(verdict, noiseVerdict) {
			t.noise++
		}
	}
	fmt.Fprintf(t.w, "| %s | %s | %s | %s |\n", target, who, measured, verdict)
}

// writeIssue15 writes the target table of issue 15: one row per target and
// contender, store or case, each verdict derived from this run's numbers.
func (rp *report) writeIssue15() {
	w := rp.out
	fmt.Fprintf(w, "## Targets (issue 15)\n\n")
	fmt.Fprintf(w, "Every verdict below is computed from this run's measurements. A row that is not met says what was measured "+
		"and, where one is known, the floor that stops it. A row is **floor** only when a floor measured in this run, alone, "+
		"already exceeds the target; a row whose floor is under the target but reaches it within the run's noise (95%% intervals) "+
		"is **not met (within noise)**, and counts as not met: on redis and memcached one bare round trip (BenchmarkFloor: a go-redis SET with PX or GET, "+
		"a gomemcache Set or Get, of a %d-byte value, through the client and options the contenders use, in every round; "+
		"each write creates a key, as a new session's does, each read reads one written before); "+
		"on a new session on those servers, also the contract floor floor-<framework>-<store>: the bare server behind a middleware that "+
		"does the least a new session in sessionkit's contract needs, in the cheapest way we know (the hook and Vary: Cookie, a 256-bit token from "+
		"crypto/rand, its SHA-256 as the store key, a create-only write of the creation time and the value, an HttpOnly, SameSite=Lax cookie; "+
		"bench/newfloors_test.go); "+
		"on the untouched request the r.WithContext copy that net/http needs to make any value reachable from r.Context() "+
		"(floor-<framework>-withcontext: the bare server behind a middleware that does only that), and on Echo the per-request "+
		"closure of any e.Use middleware (floor-echo-noopmw); the verdict takes the contract floor, floor-<framework>-hook: "+
		"the copy plus what sessionkit's contract requires of every response, touched or not, in the cheapest way we know "+
		"(a response writer wrapper in the request copy's allocation, never pooled, that runs a hook before the header leaves, which adds Vary: Cookie; "+
		"bench/floors_test.go); on latency under load, the floor server: the bare server behind the least a session middleware keeping "+
		"sessionkit's contract does (that hook, the token read, checked and hashed, its values looked up decoded and copied on write "+
		"under a lock; see *Latency under load*), measured in the same rounds as sessionkit: a latency row over the target is **floor** when the floor's ratio "+
		"alone is over it and sessionkit's p99 is not over the floor's beyond the run's noise (95%% intervals), and **not met (within "+
		"noise)** when the floor's ratio is under the target but reaches it within that noise, so that the run cannot tell whether a "+
		"minimal session middleware meets it (counted as not met). With equal round trips, a time row against the fastest peer on the same server is met when "+
		"sessionkit's median is at or under the peer's, or when the two 95%% intervals overlap (equal within noise, which "+
		"the row says: the round trips dominate both times). Rows marked — have no peer to compare with and are not counted.\n\n", floorValueSize)
	fmt.Fprintf(w, "| target | contender / case | measured | verdict |\n|---|---|---|---|\n")
	t := &issue15{w: w}
	rp.issue15Trips(t)
	rp.issue15EqualTrips(t)
	rp.issue15RedisAllocs(t)
	rp.issue15Untouched(t)
	rp.issue15New(t)
	rp.issue15Contention(t)
	rp.issue15Latency(t)
	rp.issue15Memory(t)
	fmt.Fprintf(w, "\n%d of %d rows met, %d more stopped by a floor measured in this run (a **floor** verdict: the floor's "+
		"measurement alone already exceeds the target, and on latency sessionkit's p99 is not over the floor's beyond the run's noise; "+
		"a published row is met when its numbers were measured; contention also needs no failed commit and no lost key). %s "+
		"Round trips: each store's TestRequestRoundTrips counts them on the wire through a "+
		"counting dialer (SQLite, in process: store calls), the peers' through a counting proxy in front of the server "+
		"(bench TestRoundTrips, which also counts sessionkit's redis and memcached contenders).\n\n", t.met, t.total, t.floors, t.notMet())
	rp.writeTripsTable()
	rp.writeLatency()
	rp.writeSweep()
}

// issue15Trips: round trips are the minimum on every network store.
func (rp *report) issue15Trips(t *issue15) {
	for _, st := range storeOrder {
		counts, ok := rp.modules.trips[st.name]
		source := ""
		if !ok && st.class != "" {
			// No store test output: the bench proxy's count of the
			// net/http contender on that server.
			counts, ok = rp.trips["sessionkit-nethttp-"+st.class]
			source = " (bench proxy)"
		}
		if !ok {
			continue
		}
		if len(counts) == 0 {
			t.row("round trips ≤ floor (untouched 0, new 1, read 1, update 2, renew 2)", st.name, "not measured", "— the store's test was skipped (no server)")
			continue
		}
		measured := fmtTrips(counts) + source
		if st.class != "" {
			if b, ok := rp.trips["sessionkit-nethttp-"+st.class]; ok && source == "" && fmtTrips(b) != fmtTrips(counts) {
				measured += fmt.Sprintf("; the bench proxy counted %s", fmtTrips(b))
			}
			measured += "; peers: " + rp.peerTrips(st.class)
		}
		var misses []string
		for _, sc := range tripScenarioOrder {
			n, ok := counts[sc]
			if !ok || n <= tripsFloor[sc] {
				continue
			}
			m := fmt.Sprintf("%s %d > %d", sc, n, tripsFloor[sc])
			if note := tripsNote(sc, n); note != "" {
				m += ": " + note
			}
			misses = append(misses, m)
		}
		verdict := "met"
		if len(misses) > 0 {
			verdict = "**not met**: " + strings.Join(misses, "; ")
		}
		who := st.name
		if st.name == "sqlitestore" {
			who += " (in process: store calls)"
		}
		t.row("round trips ≤ floor (untouched 0, new 1, read 1, update 2, renew 2)", who, measured, verdict)
	}
}

// issue15EqualTrips: with equal round trips, equal or less time than the
// fastest peer on the same server and framework.
func (rp *report) issue15EqualTrips(t *issue15) {
	for _, k := range rp.contenders {
		if k.lib != "sessionkit" || k.class() == "local" {
			continue
		}
		for _, sc := range []string{"new", "read", "update", "renew"} {
			kns, _, ok := rp.added(k, sc)
			if !ok {
				continue
			}
			target := "time ≤ fastest peer on the same server (" + sc + ")"
			best, bestNs := rp.fastestPeer(k, sc, func(p contender) bool { return p.class() == k.class() })
			if best.name == "" {
				t.row(target, k.name, "+"+fmtNs(kns), "— no peer on "+k.framework+" with "+k.store)
				continue
			}
			kn, okK := rp.trips[sessionkitTripName(k)][sc]
			pn, okP := rp.trips[best.name][sc]
			measured := fmt.Sprintf("+%s vs %s +%s", fmtNs(kns), best.name, fmtNs(bestNs))
			if okK && okP {
				measured += fmt.Sprintf(" (round trips %d vs %d)", kn, pn)
			}
			// With equal round trips the target is equal or less time.
			// The round trips dominate both, and their noise decides which
			// median is ahead when the rest differs by less: equal is what
			// the two 95% intervals overlapping says, and the row says so.
			equal, why := false, ""
			if kns > bestNs && okK && okP && kn == pn {
				equal, why = rp.equalWithinNoise(k, best, sc)
			}
			verdict := "met"
			switch {
			case kns <= bestNs:
			case equal:
				verdict = "met (equal within noise: " + why + ")"
			default:
				verdict = fmt.Sprintf("**not met** (%.2f× peer)", kns/math.Max(bestNs, 1))
				if okK && okP && kn > pn {
					verdict += fmt.Sprintf(": %d round trips against the peer's %d (see the round-trip row)", kn, pn)
				}
				// The floor: the round trips this request cannot do
				// without, each at least the cheaper bare one.
				set, ok1 := rp.roundTrip(k.class(), "set")
				get, ok2 := rp.roundTrip(k.class(), "get")
				if rt := math.Min(set, get); ok1 && ok2 && okK {
					measured += fmt.Sprintf("; one round trip ≥ %s (the cheaper of Floor/%s-set and -get)", fmtNs(rt), k.class())
					if kn <= floorTrips(sc) && float64(kn)*rt > bestNs {
						verdict = fmt.Sprintf("%s: its %d round trips (the fewest on this server) alone measure at least %d × %s = %s > the peer's +%s",
							floorVerdict, kn, kn, fmtNs(rt), fmtNs(float64(kn)*rt), fmtNs(bestNs))
						if okP {
							verdict += fmt.Sprintf(" (%d round trips)", pn)
						}
						verdict += "; sessionkit adds " + fmtNs(kns)
					}
				}
			}
			t.row(target, k.name, measured, verdict)
		}
	}
}

// equalWithinNoise reports whether the 95% intervals of a's and b's time
// in sc overlap, and says how. Without an interval for either (too few
// samples) they are not taken as equal.
func (rp *report) equalWithinNoise(a, b contender, sc string) (bool, string) {
	ta, ok1 := rp.get(a.name, sc, "sec/op")
	tb, ok2 := rp.get(b.name, sc, "sec/op")
	ca, ok3 := ciFrac(ta)
	cb, ok4 := ciFrac(tb)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return false, ""
	}
	if ta.v*(1-ca) > tb.v*(1+cb) || tb.v*(1-cb) > ta.v*(1+ca) {
		return false, "" // one interval lies wholly above the other
	}
	return true, fmt.Sprintf("%s %s ±%.0f%% and %s %s ±%.0f%% overlap",
		a.name, fmtNs(ta.v*1e9), ca*100, b.name, fmtNs(tb.v*1e9), cb*100)
}

// ciFrac returns the half-width of s's 95% interval as a fraction of its
// value ("±3%" is 0.03), and whether benchstat gave one.
func ciFrac(s stat) (float64, bool) {
	if s.ci == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(s.ci, "±"), "%"), 64)
	return v / 100, err == nil
}

// issue15RedisAllocs: on redis, update adds at most a tenth of the peer's
// allocations.
func (rp *report) issue15RedisAllocs(t *issue15) {
	for _, k := range rp.contenders {
		if k.lib != "sessionkit" || k.class() != "redis" {
			continue
		}
		_, kal, ok := rp.added(k, "update")
		if !ok {
			continue
		}
		target := "redis update: +allocs ≤ peer's / 10"
		best, _ := rp.fastestPeer(k, "update", func(p contender) bool { return p.class() == "redis" })
		if best.name == "" {
			t.row(target, k.name, fmt.Sprintf("+%.0f allocs", kal), "— no peer on "+k.framework+" with redis")
			continue
		}
		_, pal, _ := rp.added(best, "update")
		verdict := "met"
		if kal > pal/10 {
			verdict = fmt.Sprintf("**not met** (%.0f > %.1f)", kal, pal/10)
		}
		t.row(target, k.name, fmt.Sprintf("+%.0f allocs vs %s +%.0f", kal, best.name, pal), verdict)
	}
}

// issue15Untouched: the untouched request adds at most 0.7× the time of
// the fastest peer that has a middleware (on any framework: each adds over
// its own framework's bare handler) and at most one allocation besides the
// framework's own (on Echo, the per-request closure of any e.Use
// middleware, measured by floor-echo-noopmw). The floor of the framework
// (floor-<framework>-withcontext: the request copy that makes a value
// reachable from r.Context(), and on Echo that closure), or where it was
// measured the contract floor (floor-<framework>-hook: the copy, the
// header hook every session middleware that saves before the header needs,
// and Vary: Cookie), stops the time target when it alone adds 0.7× the
// peer's time or more.
func (rp *report) issue15Untouched(t *issue15) {
	var best contender
	bestNs := math.Inf(1)
	for _, p := range rp.contenders {
		if !p.isPeer() || !p.hasMiddleware() {
			continue
		}
		if pns, _, ok := rp.added(p, "untouched"); ok && pns < bestNs {
			best, bestNs = p, pns
		}
	}
	for _, k := range rp.contenders {
		if k.lib != "sessionkit" {
			continue
		}
		kns, kal, ok := rp.added(k, "untouched")
		if !ok {
			continue
		}
		measured := fmt.Sprintf("+%s, +%.0f allocs (+%.0f B)", fmtNs(kns), kal, rp.addedBytes(k, "untouched"))
		if best.name != "" {
			measured += fmt.Sprintf(" vs %s +%s", best.name, fmtNs(bestNs))
		}
		target := "untouched: +time ≤ 0.7× fastest peer with a middleware, ≤ 1 alloc"
		// The framework's own allocations for any middleware.
		own, ownName := 0.0, ""
		if k.framework == "echo" {
			noop := parseContender("floor-echo-noopmw")
			if _, nal, ok := rp.added(noop, "untouched"); ok {
				own, ownName = nal, noop.name
				measured += fmt.Sprintf("; Echo's own: a no-op e.Use middleware (%s) +%.0f allocs (+%.0f B)", noop.name, nal, rp.addedBytes(noop, "untouched"))
			}
		}
		// The floors: the request copy (withcontext), and the contract
		// floor (hook): the copy, the header hook and Vary: Cookie. The
		// verdict takes the contract floor when it was measured.
		fl := parseContender("floor-" + k.framework + "-withcontext")
		fns, fal, hasFloor := rp.added(fl, "untouched")
		if hasFloor {
			measured += fmt.Sprintf("; floor (%s) +%s, +%.0f allocs (+%.0f B)", fl.name, fmtNs(fns), fal, rp.addedBytes(fl, "untouched"))
		}
		what := "the request copy alone"
		if k.framework == "echo" {
			what = "the request copy and Echo's middleware closure alone"
		}
		hook := parseContender("floor-" + k.framework + "-hook")
		if hns, hal, ok := rp.added(hook, "untouched"); ok {
			measured += fmt.Sprintf("; contract floor (%s) +%s, +%.0f allocs (+%.0f B)", hook.name, fmtNs(hns), hal, rp.addedBytes(hook, "untouched"))
			if hasFloor && hns < fns {
				// It does all the copy floor does and more: noise, which
				// the verdict, on the contract floor alone, does not use.
				measured += fmt.Sprintf(" (under the copy's floor it contains: noise of %s)", fmtNs(fns-hns))
			}
			fl, fns, hasFloor = hook, hns, true
			what = "the request copy, the header hook and Vary: Cookie alone"
			if k.framework == "echo" {
				what = "the request copy, the header hook, Vary: Cookie and Echo's middleware closure alone"
			}
		}
		if best.name == "" {
			t.row(target, k.name, measured, "— no peer with a middleware")
			continue
		}
		var misses []string
		if kal > 1+own {
			m := fmt.Sprintf("%.0f allocs", kal)
			if ownName != "" {
				m += fmt.Sprintf(" > 1 + Echo's own %.0f", own)
			}
			misses = append(misses, m)
		}
		above := "no more than the floor"
		if kns > fns {
			above = fmtNs(kns-fns) + " above it"
		}
		timeFloor := hasFloor && fns >= 0.7*bestNs
		var verdict string
		switch {
		case timeFloor && len(misses) == 0:
			verdict = fmt.Sprintf("%s: %s (%s) adds %s ≥ 0.7× the peer's +%s (%s); sessionkit adds %s, %s",
				floorVerdict, what, fl.name, fmtNs(fns), fmtNs(bestNs), fmtNs(0.7*bestNs), fmtNs(kns), above)
		case timeFloor:
			verdict = fmt.Sprintf("**not met** (%s; time: %s (%s) adds %s ≥ 0.7× peer, sessionkit %s)",
				strings.Join(misses, ", "), what, fl.name, fmtNs(fns), above)
		case kns <= 0.7*bestNs && len(misses) == 0:
			verdict = "met"
		default:
			if kns > 0.7*bestNs {
				m := fmt.Sprintf("%s× peer", fmtRatio(kns/math.Max(bestNs, 1), 0.7))
				if hasFloor {
					m += fmt.Sprintf("; the floor (%s) adds %s, under 0.7× peer (%s): sessionkit is %s", fl.name, fmtNs(fns), fmtNs(0.7*bestNs), above)
				}
				misses = append([]string{m}, misses...)
			}
			verdict = "**not met** (" + strings.Join(misses, ", ") + ")"
		}
		t.row(target, k.name, measured, verdict)
	}
}

// addedBytes returns the bytes per request c allocates over its
// framework's baseline in sc (0 when it allocates fewer).
func (rp *report) addedBytes(c contender, sc string) float64 {
	kb, _ := rp.get(c.name, sc, "B/op")
	bb, _ := rp.get("baseline-"+c.framework, sc, "B/op")
	return math.Max(0, kb.v-bb.v)
}

// issue15New: a new session adds at most half the time of the fastest peer
// on the same framework and the same kind of store. On a network store a
// new session is one write round trip on every library, and, in
// sessionkit's contract, a minimal middleware's new session around it (the
// contract floor, floor-<framework>-<store>: bench/newfloors_test.go): when
// either floor alone exceeds half the peer's added time, it stops the row;
// when the higher is under that but reaches it within the run's noise
// (halfNoise), the row is not met within noise (noiseVerdict).
func (rp *report) issue15New(t *issue15) {
	for _, k := range rp.contenders {
		if k.lib != "sessionkit" {
			continue
		}
		kns, _, ok := rp.added(k, "new")
		if !ok {
			continue
		}
		target := "new: +time ≤ 0.5× fastest peer (same framework, same kind of store)"
		rt, hasRT := rp.roundTrip(k.class(), "set")
		rtNote := ""
		if hasRT {
			rtNote = fmt.Sprintf("; one write round trip (Floor/%s-set) %s, sessionkit's added time minus it +%s",
				k.class(), fmtNs(rt), fmtNs(math.Max(0, kns-rt)))
		}
		// The contract floor, on a network store, when this run measured it.
		cf := parseContender("floor-" + k.framework + "-" + k.class())
		cfNs, _, hasCF := rp.added(cf, "new")
		if hasCF {
			rtNote += fmt.Sprintf("; contract floor (%s: a minimal session middleware's new session, the write round trip included) +%s",
				cf.name, fmtNs(cfNs))
		}
		best, bestNs := rp.fastestPeer(k, "new", func(p contender) bool { return p.storeKind() == k.storeKind() })
		if best.name == "" {
			t.row(target, k.name, "+"+fmtNs(kns)+rtNote, "— no peer on "+k.framework+" with a "+k.storeKind()+" store")
			continue
		}
		half := 0.5 * bestNs
		// The floor a row under neither floor is held against: the
		// contract floor when measured, else the bare round trip. what
		// names it with its time, short without; tail says what sessionkit
		// adds beyond it.
		var fl struct {
			what, short, tail string
			ns                float64
			st                stat
			overBase          bool // fl is a contender's time over its baseline
		}
		switch {
		case hasCF:
			fl.what, fl.short, fl.ns, fl.overBase = fmt.Sprintf("the contract floor (%s), +%s,", cf.name, fmtNs(cfNs)), "the floor", cfNs, true
			fl.st = rp.res["Scenarios/"+cf.name+"/new"]["sec/op"]
			fl.tail = fmt.Sprintf("sessionkit adds %s, ", fmtNs(kns))
			if kns <= cfNs {
				fl.tail += "no more than it"
			} else {
				fl.tail += fmtNs(kns-cfNs) + " above it"
			}
		case hasRT:
			fl.what, fl.short, fl.ns = fmt.Sprintf("one write round trip, %s,", fmtNs(rt)), "the round trip", rt
			fl.st = rp.res["Floor/"+k.class()+"-set"]["sec/op"]
			fl.tail = fmt.Sprintf("sessionkit adds %s beyond it", fmtNs(math.Max(0, kns-rt)))
		}
		ratio := fmtRatio(kns/math.Max(bestNs, 1), 0.5)
		verdict := "met"
		switch {
		case kns <= half:
		case hasRT && rt > half:
			verdict = fmt.Sprintf("%s: one write round trip alone measures %s > 0.5× the peer's +%s (%s); sessionkit adds %s, of which %s is the round trip",
				floorVerdict, fmtNs(rt), fmtNs(bestNs), fmtNs(half), fmtNs(kns), fmtNs(rt))
		case hasCF && cfNs > half:
			verdict = fmt.Sprintf("%s: the contract floor (%s) alone adds %s > 0.5× the peer's +%s (%s); %s",
				floorVerdict, cf.name, fmtNs(cfNs), fmtNs(bestNs), fmtNs(half), fl.tail)
		case !hasCF && !hasRT:
			verdict = fmt.Sprintf("**not met** (%s× peer)", ratio)
		default:
			// The half of the peer's time less the floor, and that
			// difference's noise.
			if h, ok := rp.halfNoise(fl.st, fl.overBase, best, k.framework); ok && half-fl.ns <= h {
				verdict = fmt.Sprintf("%s: %s× peer; %s is under 0.5× the peer's +%s (%s) but reaches it within noise "+
					"(the half less %s, %s, is within its 95%% interval's half-width, %s), "+
					"so that this run cannot tell whether it stops the row; %s)",
					noiseVerdict, ratio, fl.what, fmtNs(bestNs), fmtNs(half), fl.short, fmtNs(half-fl.ns), fmtNs(h), fl.tail)
				break
			}
			verdict = fmt.Sprintf("**not met** (%s× peer): %s is under 0.5× the peer's (%s); %s", ratio, fl.what, fmtNs(half), fl.tail)
			// What a new session costs sessionkit with no round trip at
			// all, on the same framework: most of what it adds beyond the
			// round trip.
			mem := parseContender("sessionkit-" + k.framework + "-memory")
			if mns, _, ok := rp.added(mem, "new"); ok && !hasCF && k.store != "memory" {
				verdict += fmt.Sprintf(", where a new session in process (%s) adds %s", mem.name, fmtNs(mns))
			}
		}
		t.row(target, k.name, fmt.Sprintf("+%s vs %s +%s (%.2f×)%s", fmtNs(kns), best.name, fmtNs(bestNs), kns/math.Max(bestNs, 1), rtNote), verdict)
	}
}

// halfNoise returns the half-width, in ns, of the 95% interval of half
// the peer's added time for a new session less a floor: the measurements'
// half-widths (benchstat's) added in quadrature, as for a difference of
// independent measurements: the floor's (fl, its sec/op), the peer's and
// the framework's baseline, which the peer's added time is less, and
// which a floor that is a contender (overBase: its added time) is less
// too. It reports false when benchstat gave any of them no interval.
func (rp *report) halfNoise(fl stat, overBase bool, peer contender, framework string) (float64, bool) {
	pt, ok1 := rp.get(peer.name, "new", "sec/op")
	bt, ok2 := rp.get("baseline-"+framework, "new", "sec/op")
	cf, ok3 := ciFrac(fl) // false for a floor not measured
	cp, ok4 := ciFrac(pt)
	cb, ok5 := ciFrac(bt)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return 0, false
	}
	flHW := fl.v * cf
	if overBase {
		flHW = math.Hypot(flHW, bt.v*cb)
	}
	return math.Hypot(flHW, 0.5*math.Hypot(pt.v*cp, bt.v*cb)) * 1e9, true
}

// floorValueSize is the value size of bench's BenchmarkFloor
// (bench/floors_test.go).
const floorValueSize = 200

// roundTrip returns one bare round trip of op ("set" or "get") on the
// server of class ("redis" or "memcache"), in ns, as BenchmarkFloor
// measured it in this run.
func (rp *report) roundTrip(class, op string) (float64, bool) {
	r, ok := rp.res["Floor/"+class+"-"+op]["sec/op"]
	return r.v * 1e9, ok
}

// floorTrips is the fewest round trips a request of kind sc can take on
// any server: issue 15's floor.
func floorTrips(sc string) int { return tripsFloor[sc] }

// issue15Contention: commits per second and CompareAndSwap calls per
// commit with 16 and 64 writers, per store.
func (rp *report) issue15Contention(t *issue15) {
	var stores []string
	for s := range rp.modules.contention {
		stores = append(stores, s)
	}
	slices.Sort(stores)
	for _, s := range stores {
		rows := rp.modules.contention[s]
		var parts []string
		bad := 0.0
		for _, c := range rows {
			parts = append(parts, fmt.Sprintf("%d writers: %.0f commits/s, %.2f cas/write", c.writers, c.commitsPerSec, c.casPerWrite))
			bad += c.failed + c.lost
		}
		verdict := "met (published)"
		if bad > 0 {
			verdict = "**not met**: failed commits or lost keys (see *Contention* below)"
		}
		t.row("contention: commits/s and CompareAndSwap calls per commit, 16 and 64 writers on one session", s,
			strings.Join(parts, "; "), verdict)
	}
}

// issue15Latency: p99 under load at most 1.15× the bare server's, checked
// on the median of the rounds' p99 ratios (see writeLatency). Over the
// target, where the intervals were measured, the row is floor when the
// floor's median ratio alone is over the target and sessionkit's p99 is
// not over the floor's beyond the run's noise (the paired ratio's
// interval reaches down to 1); it is not met when sessionkit is over the
// floor beyond noise, and not met within noise (noiseVerdict) when the
// floor's median is under the target but its interval reaches it.
func (rp *report) issue15Latency(t *issue15) {
	for _, l := range rp.latency {
		ratio := l.ratio()
		verdict := "met"
		// The paired ratio's interval against 1, the floor's against 1.15.
		hasCI := l.intervals()
		vs := fmt.Sprintf("%s (95%% interval %s)", fmtRatio(l.vsFloor, 1), span(l.vsFloorLo, l.vsFloorHi, 1))
		flr := fmt.Sprintf("%s (95%% interval %s)", fmtRatio(l.floorRatio, 1.15), span(l.floorLo, l.floorHi, 1.15))
		switch {
		case ratio <= 1.15:
		case hasCI && l.vsFloorLo > 1:
			verdict = fmt.Sprintf("**not met** (%s× bare; over the floor beyond noise: sessionkit's p99 over the floor's %s)", fmtRatio(ratio, 1.15), vs)
		case hasCI && l.floorRatio > 1.15:
			verdict = fmt.Sprintf("%s: the floor alone (a minimal session middleware) has a p99 ratio of %s > 1.15, and sessionkit's p99 is not over the "+
				"floor's beyond this run's noise (its p99 over the floor's %s); sessionkit %s× bare", floorVerdict, flr, vs, fmtRatio(ratio, 1.15))
		case hasCI && l.floorHi >= 1.15:
			verdict = fmt.Sprintf("%s: %s× bare; the floor's ratio, %s, is under 1.15 but reaches it within noise, and sessionkit's p99 is "+
				"not over the floor's beyond it (its p99 over the floor's %s): this run cannot tell whether a minimal session middleware meets the target)",
				noiseVerdict, fmtRatio(ratio, 1.15), flr, vs)
		case hasCI:
			verdict = fmt.Sprintf("**not met** (%s× bare; the floor's ratio, %s, is under 1.15 beyond noise)", fmtRatio(ratio, 1.15), flr)
		case l.floorP99 > 0 && l.floorRatio > 1.15:
			verdict = fmt.Sprintf("%s: the floor alone (a minimal session middleware) has a p99 ratio of %s > 1.15; sessionkit %s",
				floorVerdict, fmtRatio(l.floorRatio, 1.15), fmtRatio(ratio, 1.15))
		case l.floorP99 > 0:
			verdict = fmt.Sprintf("**not met** (%s× bare; the floor %s×)", fmtRatio(ratio, 1.15), fmtRatio(l.floorRatio, 1.15))
		default:
			verdict = fmt.Sprintf("**not met** (%s× bare)", fmtRatio(ratio, 1.15))
		}
		measured := fmt.Sprintf("p99 %s vs bare %s (p50 %s vs %s)", fmtUs(l.sessP99), fmtUs(l.bareP99), fmtUs(l.sessP50), fmtUs(l.bareP50))
		switch {
		case hasCI:
			measured = fmt.Sprintf("p99 ratio %s (95%% interval %s), the median of %d rounds (%.2f to %.2f); pooled ",
				fmtRatio(l.ratioMed, 1.15), span(l.ratioLo, l.ratioHi, 1.15), l.rounds, l.ratioMin, l.ratioMax) + measured
		case l.rounds > 0:
			measured = fmt.Sprintf("p99 ratio %.2f, the median of %d rounds (%.2f to %.2f); pooled ", l.ratioMed, l.rounds, l.ratioMin, l.ratioMax) + measured
		}
		switch {
		case hasCI:
			measured += fmt.Sprintf("; the floor (a minimal session middleware): p99 ratio to bare %s (median; 95%% interval %s; %.2f to %.2f), "+
				"its p99 %s (p50 %s); sessionkit's p99 over the floor's, the median of the rounds' ratios, %s",
				fmtRatio(l.floorRatio, 1.15), span(l.floorLo, l.floorHi, 1.15), l.floorMin, l.floorMax, fmtUs(l.floorP99), fmtUs(l.floorP50), vs)
		case l.floorP99 > 0:
			measured += fmt.Sprintf("; the floor (a minimal session middleware): p99 ratio to bare %.2f (median; %.2f to %.2f), its p99 %s (p50 %s)",
				l.floorRatio, l.floorMin, l.floorMax, fmtUs(l.floorP99), fmtUs(l.floorP50))
		}
		t.row("latency under load: p99 ≤ 1.15× bare (memory store)", fmt.Sprintf("%s %s, %d conns", l.framework, l.route, l.conns),
			measured, verdict)
	}
}

// issue15Memory: memory returns after a peak, the footprint at a million
// sessions and the sweep pause.
func (rp *report) issue15Memory(t *issue15) {
	for _, n := range []string{"300000", "1000000"} {
		r, ok := rp.res["Sweep/sessions="+n]
		if !ok {
			continue
		}
		before, peak, after := r["heapB-before"].v/1e6, r["heapB-peak"].v/1e6, r["heapB-after"].v/1e6
		verdict := "met"
		if after-before > 0.1*(peak-before) {
			verdict = fmt.Sprintf("**not met**: %.0f%% of the peak's growth is still held", 100*(after-before)/math.Max(peak-before, 1e-9))
		}
		t.row("memory returns after a peak: after the sweep ≤ before + 10% of the peak's growth", "memory store, "+n+" sessions expire",
			fmt.Sprintf("heap %.1f MB before, %.1f MB at the peak, %.1f MB after the sweep", before, peak, after), verdict)
	}
	sk, ok1 := rp.res["Footprint/sessionkit-nethttp-memory"]["heapB/session"]
	scs, ok2 := rp.res["Footprint/scs-nethttp-memstore"]["heapB/session"]
	if ok1 && ok2 {
		measured := fmt.Sprintf("%.0f B vs scs %.0f B (%.2f×)", sk.v, scs.v, sk.v/scs.v)
		parts := rp.res["Footprint/sessionkit-memory-parts"]
		index, ok3 := parts["indexB/session"]
		record, ok4 := parts["recordB/session"]
		if ok3 && ok4 {
			rest := math.Round(sk.v - index.v - record.v)
			if rest == 0 {
				rest = 0 // not -0
			}
			measured += fmt.Sprintf("; measured apart: index %.0f B/session (the store with empty records: "+
				"its tables' slots and record entries), encoded record %.0f B, the rest %.0f B", index.v, record.v, rest)
		}
		verdict := "met"
		if sk.v > 0.5*scs.v {
			verdict = fmt.Sprintf("**not met** (target %.0f B)", 0.5*scs.v)
			if ok3 && ok4 && record.v > 0.5*scs.v {
				verdict += ": the encoded record alone is over the target, the floor"
			}
		}
		t.row("footprint at 1 000 000 sessions: B/session ≤ 0.5× scs", "memory store", measured, verdict)
	}
	if r, ok := rp.res["Sweep/sessions=1000000"]; ok {
		t.row("sweep pause published (1 000 000 sessions expire)", "memory store",
			fmt.Sprintf("sweep %.0f ms; longest Load during sweep + GC %s (with nothing running: %s, this machine's floor); longest GC pause %s",
				r["sweep-ms"].v, fmtUs(r["stall-µs"].v), fmtUs(r["idle-stall-µs"].v), fmtUs(r["gc-pause-µs"].v)), "met (published)")
	}
}

var tripScenarioOrder = []string{"untouched", "new", "read", "update", "renew"}

// peerTrips lists the round trips of the peers on the server of class.
func (rp *report) peerTrips(class string) string {
	var parts []string
	var names []string
	for c := range rp.trips {
		names = append(names, c)
	}
	slices.Sort(names)
	for _, c := range names {
		p := parseContender(c)
		if !p.isPeer() || p.class() != class {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", c, fmtTrips(rp.trips[c])))
	}
	if len(parts) == 0 {
		return "none on this server"
	}
	return strings.Join(parts, "; ")
}

// sessionkitTripName is the contender whose round trips stand for k's:
// they do not depend on the framework.
func sessionkitTripName(k contender) string {
	if _, ok := map[string]bool{"redis": true, "memcache": true}[k.store]; ok {
		return "sessionkit-nethttp-" + k.store
	}
	return k.name
}

// fastestPeer returns the peer on k's framework with the least added time
// in sc, among those keep accepts.
func (rp *report) fastestPeer(k contender, sc string, keep func(contender) bool) (contender, float64) {
	var best contender
	bestNs := math.Inf(1)
	for _, p := range rp.contenders {
		if !p.isPeer() || p.framework != k.framework {
			continue
		}
		if !keep(p) {
			continue
		}
		if pns, _, ok := rp.added(p, sc); ok && pns < bestNs {
			best, bestNs = p, pns
		}
	}
	return best, bestNs
}

// fmtRatio formats a ratio compared with limit with two decimals, or with
// more, up to four, while fewer would round it onto the limit (1.1496
// against 1.15 is 1.1496, not 1.15).
func fmtRatio(r, limit float64) string {
	for prec := 2; prec < 4; prec++ {
		if s := fmt.Sprintf("%.*f", prec, r); s != fmt.Sprintf("%.*f", prec, limit) {
			return s
		}
	}
	return fmt.Sprintf("%.4f", r)
}

func fmtUs(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.1f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

// writeTripsTable lists every contender's round trips per request kind,
// and sessionkit's server stores' own counts.
func (rp *report) writeTripsTable() {
	if len(rp.trips) == 0 && len(rp.modules.trips) == 0 {
		return
	}
	w := rp.out
	fmt.Fprintf(w, "## Round trips per request\n\nStore round trips of one request, each kind measured after one unmeasured "+
		"request: the bench contenders' counted on the wire by a proxy in front of the server (bench TestRoundTrips), "+
		"sessionkit's stores' by their own TestRequestRoundTrips (a counting dialer; SQLite: store calls). A round trip "+
		"is a wait: commands sent at once on several connections, before any answer, count once; where there were more "+
		"commands than round trips, the commands follow in parentheses. Both counters hold every answer back by 1 ms, "+
		"as a server across a network would, so that what goes out at once does not depend on goroutine scheduling.\n\n"+
		"| contender or store | untouched | new | read | update | renew |\n|---|--:|--:|--:|--:|--:|\n")
	row := func(name string, m map[string]int) {
		fmt.Fprintf(w, "| %s |", name)
		for _, sc := range tripScenarioOrder {
			if _, ok := m[sc]; ok {
				fmt.Fprintf(w, " %s |", fmtTripCount(m, sc))
			} else {
				fmt.Fprintf(w, " — |")
			}
		}
		fmt.Fprintln(w)
	}
	var names []string
	for c := range rp.trips {
		names = append(names, c)
	}
	slices.Sort(names)
	for _, c := range names {
		row(c, rp.trips[c])
	}
	for _, st := range storeOrder {
		if m, ok := rp.modules.trips[st.name]; ok {
			row("sessionkit "+st.name+" (store test)", m)
		}
	}
	fmt.Fprintln(w)
}

// writeLatency lists the latency measurements.
func (rp *report) writeLatency() {
	if len(rp.latency) == 0 {
		return
	}
	w := rp.out
	fmt.Fprintf(w, "## Latency under load\n\nbench/cmd/latency: a closed-loop load generator with C keep-alive connections "+
		"(one stored ten-value session each) against the same routes served bare, through sessionkit on the memory store and behind the floor (below), "+
		"in one process on this machine; every request's latency is kept. Every route sets its Content-Type through the "+
		"framework's own call, as real handlers do (net/http allocates a response's header map, and copies it at "+
		"WriteHeader, only once someone sets a header: against a bare server that sets none, sessionkit's Vary: Cookie "+
		"would pay that alone). The bare server gets the requests of a visitor "+
		"without a session (no Cookie header); sessionkit's and the floor's (below) carry their session cookie. Bare, the floor and "+
		"sessionkit are measured in alternating rounds (bare, floor, sessionkit in odd rounds, sessionkit, floor, bare in "+
		"even ones), and each round gives one p99 ratio: sessionkit's p99 over bare's in that round (and one of the floor's). "+
		"Rounds are many and short (the median of many rounds' ratios moves less from run to run); each load of a round "+
		"starts with a garbage collection, not measured, so that the collections that slow its requests are those its own "+
		"allocations start. The target is checked on the median of the rounds' ratios (no round is picked: "+
		"a burst of other work on the shared machine that spoils a round or two moves the median little, and the pooled "+
		"p99, which a single spoiled round decides, much); the range of the rounds' ratios and the pooled p50 and p99 "+
		"of all rounds are shown beside it. p99 on a machine whose load average is above its CPU count (see the top of "+
		"this file) mostly measures the scheduler: compare it with a quiet run before reading it as the middleware's.\n\n"+
		"\"floor\" is the floor server, measured in the same rounds: the bare server behind "+
		"the least a server-side session middleware keeping sessionkit's contract does (bench/cmd/latency/floor.go). It copies the "+
		"request with the session in its context, in one allocation with the session and a response writer wrapper that adds "+
		"Vary: Cookie before the header leaves; when a handler touches the session it finds the token in the Cookie header, checks "+
		"it (43 base64url characters), hashes it with SHA-256 and looks the values up under a read lock (64 shards, as sessionkit's "+
		"memory store), kept decoded in a map never modified once stored (a read copies and decodes nothing); an update is applied "+
		"to a copy of the values stored at that moment, under the write lock, so no concurrent update is lost. It keeps no version, "+
		"encoding, expiry, deadline or observer, and reads no quoted or signed token. Its median p99 "+
		"ratio to bare is what no session middleware avoids in this harness, the Cookie header's bytes included (net/http reads "+
		"the line into r.Header whatever the server does with it): a row whose floor alone exceeds the target is **floor** (unless "+
		"sessionkit's p99 is over the floor's beyond the run's noise, below), "+
		"and sessionkit's ratio above the floor's is its own. The floor's ratio is as noisy as sessionkit's: on the untouched "+
		"route it does next to nothing, and its spread there is the harness's.\n\n"+
		"A round's p99 is decided by the few collections and scheduling stalls that fall into its 50 ms, so single rounds' ratios "+
		"spread widely, and the median of 39 of them moves by several hundredths from run to run. Each median therefore comes "+
		"with a 95%% confidence interval (the order statistics that hold the median with at least 95%% probability, whatever the "+
		"distribution: of 39 rounds, make bench's setting, the 13th to the 27th smallest ratio; none under six rounds), and each "+
		"round also gives sessionkit's p99 over the floor's, measured next to each other: the median of these paired ratios, with "+
		"its interval, says whether sessionkit's p99 differs from the floor's beyond the run's noise. A row over 1.15 is "+
		"**not met** when sessionkit is over the floor beyond that noise (the paired interval lies above 1), whatever the floor; "+
		"otherwise it is **floor** when the floor's median ratio alone is over 1.15, **not met (within noise)** when the floor's "+
		"median is under 1.15 but its interval reaches it (the run cannot tell whether a minimal session middleware meets the "+
		"target; counted as not met), and **not met** when the floor's interval lies under 1.15.\n\n"+
		"| framework | route | conns | bare p50 | bare p99 | sessionkit p50 | sessionkit p99 | pooled p99 ratio | median p99 ratio (rounds, range; 95%% interval) | bare req/s | sessionkit req/s | floor p50 | floor p99 | floor req/s | floor's median p99 ratio to bare (range; 95%% interval) | sessionkit's p99 over the floor's, median of the rounds (95%% interval) |\n"+
		"|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, l := range rp.latency {
		med := "—"
		if l.rounds > 0 {
			med = fmt.Sprintf("%.2f (%d, %.2f–%.2f)", l.ratioMed, l.rounds, l.ratioMin, l.ratioMax)
		}
		floor := "— | — | — | — | —"
		if l.floorP99 > 0 {
			floor = fmt.Sprintf("%s | %s | %.0f | %.2f (%.2f–%.2f) | —", fmtUs(l.floorP50), fmtUs(l.floorP99), l.floorRPS, l.floorRatio, l.floorMin, l.floorMax)
		}
		if l.intervals() {
			med = fmt.Sprintf("%s (%d, %.2f–%.2f; %s)", fmtRatio(l.ratioMed, 1.15), l.rounds, l.ratioMin, l.ratioMax, span(l.ratioLo, l.ratioHi, 1.15))
			floor = fmt.Sprintf("%s | %s | %.0f | %s (%.2f–%.2f; %s) | %s (%s)", fmtUs(l.floorP50), fmtUs(l.floorP99), l.floorRPS,
				fmtRatio(l.floorRatio, 1.15), l.floorMin, l.floorMax, span(l.floorLo, l.floorHi, 1.15),
				fmtRatio(l.vsFloor, 1), span(l.vsFloorLo, l.vsFloorHi, 1))
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %.2f | %s | %.0f | %.0f | %s |\n", l.framework, l.route, l.conns,
			fmtUs(l.bareP50), fmtUs(l.bareP99), fmtUs(l.sessP50), fmtUs(l.sessP99), l.sessP99/math.Max(l.bareP99, 1), med, l.bareRPS, l.sessRPS, floor)
	}
	fmt.Fprintln(w)
}

// writeSweep lists the peak-and-sweep measurements of the memory store.
func (rp *report) writeSweep() {
	var names []string
	for n := range rp.res {
		if strings.HasPrefix(n, "Sweep/") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	w := rp.out
	fmt.Fprintf(w, "## Memory after a peak\n\nBenchmarkSweep: N ten-value sessions stored at once in sessionkit's memory store "+
		"(next to 1000 long-lived ones), expired and swept by DeleteExpired (what the sweeper runs). Live heap after GC; "+
		"stall: the longest a Load of a long-lived session took while the sweep and one GC ran; idle: the same with nothing "+
		"else running (this machine's floor).\n\n"+
		"| sessions | heap before | at the peak | after the sweep | sweep | stall | idle stall | longest GC pause |\n"+
		"|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, n := range names {
		r := rp.res[n]
		fmt.Fprintf(w, "| %s | %.1f MB | %.1f MB | %.1f MB | %.0f ms | %s | %s | %s |\n", strings.TrimPrefix(n, "Sweep/sessions="),
			r["heapB-before"].v/1e6, r["heapB-peak"].v/1e6, r["heapB-after"].v/1e6, r["sweep-ms"].v, fmtUs(r["stall-µs"].v), fmtUs(r["idle-stall-µs"].v), fmtUs(r["gc-pause-µs"].v))
	}
	fmt.Fprintln(w)
}
