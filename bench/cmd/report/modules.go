package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// modules is what bench/modules.sh measured of sessionkit's own stores.
type modules struct {
	// trips maps store (redisstore, ...) to request kind to round trips,
	// from the store's TestRequestRoundTrips (TestRequestCalls for SQLite).
	trips map[string]map[string]int
	// contention maps store to its conformance.BenchmarkContention
	// results, one per writer count.
	contention map[string][]contention
}

// contention is one writer count's runs: the medians of cas/write and
// commits/s, the worst of failed and lost.
type contention struct {
	writers                                  int
	casPerWrite, commitsPerSec, failed, lost float64
}

// readModules reads the files modules.sh leaves in dir:
// trips-<store>.txt (go test -v output with a "round trips per request:"
// line, and a "commands per request:" line where the store counts them
// too) and contention-<store>.txt (go test -bench output).
func readModules(dir string) (modules, error) {
	m := modules{trips: map[string]map[string]int{}, contention: map[string][]contention{}}
	files, err := filepath.Glob(filepath.Join(dir, "trips-*.txt"))
	if err != nil {
		return m, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return m, err
		}
		store := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "trips-"), ".txt")
		// A test skipped for want of a server leaves no counts: an
		// empty map, shown as not measured.
		m.trips[store] = parseTripsLine(string(data), "round trips per request: ")
		if m.trips[store] == nil {
			m.trips[store] = map[string]int{}
		}
		for sc, n := range parseTripsLine(string(data), "commands per request: ") {
			m.trips[store][sc+cmdSuffix] = n
		}
	}
	files, err = filepath.Glob(filepath.Join(dir, "contention-*.txt"))
	if err != nil {
		return m, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return m, err
		}
		store := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "contention-"), ".txt")
		if rows := parseContention(string(data)); len(rows) > 0 {
			m.contention[store] = rows
		}
	}
	return m, nil
}

// parseTripsLine finds marker followed by "untouched 0, new 1, ..." in go
// test -v output ("round trips per request: ", or "commands per request: "
// for a store whose commands were counted too) and returns the counts, or
// nil.
func parseTripsLine(out, marker string) map[string]int {
	for _, line := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(line, marker)
		if !ok {
			continue
		}
		counts := map[string]int{}
		for _, part := range strings.Split(rest, ",") {
			f := strings.Fields(part)
			if len(f) != 2 {
				return nil
			}
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return nil
			}
			counts[f[0]] = n
		}
		return counts
	}
	return nil
}

// parseContention reads BenchmarkContention/writers=N lines and returns
// the median of cas/write and commits/s and the worst failed/op and
// lost/op per writer count, in increasing writer count.
func parseContention(out string) []contention {
	samples := map[int]map[string][]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkContention/writers=") {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "BenchmarkContention/writers="), "")
		writers, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if samples[writers] == nil {
			samples[writers] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				samples[writers][f[i+1]] = append(samples[writers][f[i+1]], v)
			}
		}
	}
	var rows []contention
	for writers, s := range samples {
		rows = append(rows, contention{writers: writers, casPerWrite: median(s["cas/write"]),
			commitsPerSec: median(s["commits/s"]), failed: slices.Max(append(s["failed/op"], 0)), lost: slices.Max(append(s["lost/op"], 0))})
	}
	slices.SortFunc(rows, func(a, b contention) int { return a.writers - b.writers })
	return rows
}

// median returns the median of v (0 for none).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
