package main

import (
	"strings"
	"testing"
)

const sampleCSV = `goos: linux
,raw.txt,
,sec/op,CI
Scenarios/baseline-nethttp/read-2,1e-06,3%
Scenarios/sessionkit-nethttp-memory/read-2,3e-06,∞
geomean,2e-06,

,raw.txt,
,allocs/op,CI
Scenarios/baseline-nethttp/read-2,1,0%
Scenarios/sessionkit-nethttp-memory/read-2,18,0%
`

func TestParseCSV(t *testing.T) {
	res, err := parseCSV(strings.NewReader(sampleCSV))
	if err != nil {
		t.Fatal(err)
	}
	if got := res["Scenarios/sessionkit-nethttp-memory/read"]["sec/op"]; got.v != 3e-06 || got.ci != "" {
		t.Errorf("sec/op of sessionkit read = %+v, want 3e-06 without CI", got)
	}
	if got := res["Scenarios/baseline-nethttp/read"]["sec/op"].ci; got != "±3%" {
		t.Errorf("CI of baseline read = %q, want ±3%%", got)
	}
	if got := res["Scenarios/sessionkit-nethttp-memory/read"]["allocs/op"].v; got != 18 {
		t.Errorf("allocs/op of sessionkit read = %v, want 18", got)
	}
	if _, ok := res["geomean"]; ok {
		t.Error("geomean parsed as a benchmark")
	}
}

func TestAddedAndTargets(t *testing.T) {
	res, err := parseCSV(strings.NewReader(sampleCSV))
	if err != nil {
		t.Fatal(err)
	}
	rp := &report{res: res, byScenario: map[string]map[string]bool{}}
	rp.index()
	if len(rp.contenders) != 2 || rp.contenders[0].lib != "baseline" {
		t.Fatalf("contenders = %+v, want baseline first of 2", rp.contenders)
	}
	ns, allocs, ok := rp.added(parseContender("sessionkit-nethttp-memory"), "read")
	if !ok || ns < 1999 || ns > 2001 || allocs != 17 {
		t.Errorf("added(sessionkit read) = %v ns, %v allocs, %v; want 2000 ns, 17 allocs", ns, allocs, ok)
	}
	if c := parseContender("gincontrib-gin-memcached"); c.class() != "memcache" || c.framework != "gin" {
		t.Errorf("parseContender(gincontrib-gin-memcached) = %+v (class %s)", c, c.class())
	}
}

// TestScalingSpeedUp: the speed-up divides read-par1 by read-par, the two
// measured in the same process on the whole machine, with the pinned
// serial read (no -N suffix) shown beside them.
func TestScalingSpeedUp(t *testing.T) {
	res, err := parseCSV(strings.NewReader(`goos: linux
,raw.txt,
,sec/op,CI
Scenarios/sessionkit-nethttp-memory/read,3e-06,2%
Scenarios/sessionkit-nethttp-memory/read-par-2,1e-06,2%
Scenarios/sessionkit-nethttp-memory/read-par1-2,1.8e-06,2%
`))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rp := &report{res: res, byScenario: map[string]map[string]bool{}, out: &out}
	rp.index()
	rp.writeScaling()
	if want := "| sessionkit-nethttp-memory | 3.00 µs | 1.80 µs | 1.00 µs | 1.80 |"; !strings.Contains(out.String(), want) {
		t.Errorf("scaling table:\n%s\nwant the row %q", out.String(), want)
	}
}
