package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIssue15Table(t *testing.T) {
	dir := t.TempDir()
	tripsFile := filepath.Join(dir, "trips.txt")
	latFile := filepath.Join(dir, "latency.tsv")
	if err := os.WriteFile(tripsFile, []byte("=== RUN TestRoundTrips\n"+
		"    roundtrips_test.go:150: trips\tsessionkit-nethttp-redis\tread\t1\n"+
		"    roundtrips_test.go:150: trips\tsessionkit-nethttp-redis\trenew\t3\n"+
		"    roundtrips_test.go:150: trips\tscs-nethttp-redis\trenew\t3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(latFile, []byte("nethttp\tread\t16\t400\t1000\t420\t1100\t9000\t8000\n"+
		"nethttp\tupdate\t64\t400\t1000\t420\t1200\t9000\t8000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := readTrips(tripsFile)
	if err != nil || tr["sessionkit-nethttp-redis"]["renew"] != 3 || len(tr) != 2 {
		t.Fatalf("readTrips = %v, %v", tr, err)
	}
	lat, err := readLatency(latFile)
	if err != nil || len(lat) != 2 || lat[1].sessP99 != 1200 {
		t.Fatalf("readLatency = %+v, %v", lat, err)
	}
	res, err := parseCSV(strings.NewReader(sampleCSV))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rp := &report{res: res, byScenario: map[string]map[string]bool{}, trips: tr, latency: lat, out: &sb}
	rp.index()
	rp.writeIssue15()
	out := sb.String()
	for _, want := range []string{
		"| round trips, read ≤ 1 | sessionkit-nethttp-redis | 1 (peers: none on this server) | met |",
		"| round trips, renew ≤ 2 | sessionkit-nethttp-redis | 3 (peers: scs-nethttp-redis 3) | **not met**: the core writes",
		"| latency under load: p99 ≤ 1.15× bare | nethttp read, 16 conns | p99 1.1 ms vs bare 1.0 ms | met |",
		"| latency under load: p99 ≤ 1.15× bare | nethttp update, 64 conns | p99 1.2 ms vs bare 1.0 ms | **not met** (1.20× bare) |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("issue 15 table lacks %q:\n%s", want, out)
		}
	}
}
