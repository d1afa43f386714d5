package core

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// codecTestPoint is a non-native type registered with gob, to exercise the
// gob fallback.
type codecTestPoint struct {
	X, Y  int
	Label string
}

// codecTestRole is a named string type: not native, so it goes through gob.
type codecTestRole string

// codecTestUnregistered is never registered with gob.
type codecTestUnregistered struct{ A int }

func init() {
	gob.Register(codecTestPoint{})
	gob.Register(codecTestRole(""))
	gob.Register(time.Time{}) // for BenchmarkGobMap
}

// codecTestCreated is a creation time with nanoseconds and a non-UTC zone.
var codecTestCreated = time.Date(2024, 5, 1, 12, 30, 45, 123456789, time.FixedZone("CEST", 2*3600))

// codecTestSession is a typical 10-value session of strings, ints, a bool
// and a time, used by the allocation test and the benchmarks.
func codecTestSession() map[string]any {
	return map[string]any{
		"user_id":    int64(4821337),
		"name":       "Ada Lovelace",
		"email":      "ada@example.com",
		"role":       "admin",
		"csrf":       "q8Xr2fK9mZ4tB7wN1cV6yH3jL5pD0sAe",
		"theme":      "dark",
		"logged_in":  true,
		"login_at":   time.Date(2024, 5, 1, 12, 0, 0, 987654321, time.UTC),
		"visits":     42,
		"cart_items": 3,
	}
}

// codecTestRich exercises every native type, nesting and the gob fallback.
func codecTestRich() map[string]any {
	return map[string]any{
		"nil":     nil,
		"s":       "héllo \xff",
		"t":       true,
		"f":       false,
		"i":       -123456789,
		"i8":      int8(-128),
		"i16":     int16(32767),
		"i32":     int32(math.MinInt32),
		"i64":     int64(math.MaxInt64),
		"u":       uint(math.MaxUint),
		"u8":      uint8(255),
		"u16":     uint16(65535),
		"u32":     uint32(math.MaxUint32),
		"u64":     uint64(math.MaxUint64),
		"f32":     float32(3.25),
		"f64":     -1.5e300,
		"bytes":   []byte{0, 1, 2, 255},
		"time":    codecTestCreated,
		"strs":    []string{"a", "", "ccc"},
		"ints":    []int{0, -1, math.MaxInt},
		"smap":    map[string]string{"b": "2", "a": "1"},
		"map":     map[string]any{"z": 1, "a": []any{"x", 2.5, nil, map[string]any{}}},
		"slice":   []any{int8(1), "two", []byte("three"), time.Unix(4, 5).UTC()},
		"point":   codecTestPoint{X: 1, Y: -2, Label: "p"},
		"role":    codecTestRole("admin"),
		"":        "empty key",
		"nilmap":  map[string]any(nil),
		"nilsl":   []any(nil),
		"nilstrs": []string(nil),
	}
}

// codecEqual compares decoded values: times with Equal and the same offset,
// floats by their bits (so NaN equals itself), containers element-wise and
// anything else with reflect.DeepEqual, falling back to comparing the Go
// syntax representation (which sees NaN inside gob-decoded values as equal).
func codecEqual(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		if !ok || !x.Equal(y) {
			return false
		}
		_, ox := x.Zone()
		_, oy := y.Zone()
		return ox == oy
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || (x == nil) != (y == nil) || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !codecEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || (x == nil) != (y == nil) || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !codecEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(a, b) || fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
	}
}

// binTestRecord builds a record by hand: header, created time, the count
// of entries and the entries themselves.
func binTestRecord(count uint64, entries ...[]byte) []byte {
	b := []byte{binMagic, binVersion}
	b = binAppendTime(b, time.Unix(1700000000, 0).UTC())
	b = binary.AppendUvarint(b, count)
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

// binTestEntry is a key followed by raw value bytes (tag first).
func binTestEntry(key string, value ...byte) []byte {
	return append(binAppendString(nil, key), value...)
}

func binUvarint(v uint64) []byte { return binary.AppendUvarint(nil, v) }
func binVarint(v int64) []byte   { return binary.AppendVarint(nil, v) }

func binCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestBinaryCodecRoundTripEachType(t *testing.T) {
	c := BinaryCodec{}
	for key, v := range codecTestRich() {
		t.Run(fmt.Sprintf("%s_%T", key, v), func(t *testing.T) {
			in := map[string]any{key: v}
			data, err := c.Encode(codecTestCreated, in)
			if err != nil {
				t.Fatalf("Encode(%#v) error: %v", v, err)
			}
			created, out, err := c.Decode(data)
			if err != nil {
				t.Fatalf("Decode(Encode(%#v)) error: %v", v, err)
			}
			if !codecEqual(created, codecTestCreated) {
				t.Errorf("created = %v, want %v", created, codecTestCreated)
			}
			got, ok := out[key]
			if !ok || len(out) != 1 {
				t.Fatalf("Decode = %#v, want one key %q", out, key)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(v) {
				t.Errorf("decoded type %T, want %T", got, v)
			}
			if !codecEqual(got, v) {
				t.Errorf("decoded %#v, want %#v", got, v)
			}
		})
	}
}

func TestBinaryCodecRoundTripWholeSession(t *testing.T) {
	c := BinaryCodec{}
	for name, in := range map[string]map[string]any{
		"rich":    codecTestRich(),
		"session": codecTestSession(),
		"empty":   {},
		"nil":     nil,
		"nested":  {"a": map[string]any{"b": []any{map[string]any{"c": []any{[]string{"d"}, map[string]string{"e": "f"}}}}}},
		"special floats": {
			"nan": math.NaN(), "inf": math.Inf(-1), "negzero": math.Copysign(0, -1),
			"nan32": float32(math.NaN()), "tiny": math.SmallestNonzeroFloat64,
		},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := c.Encode(codecTestCreated, in)
			if err != nil {
				t.Fatalf("Encode error: %v", err)
			}
			_, out, err := c.Decode(data)
			if err != nil {
				t.Fatalf("Decode error: %v", err)
			}
			if out == nil {
				t.Fatal("Decode returned a nil map")
			}
			want := in
			if want == nil {
				want = map[string]any{}
			}
			if !codecEqual(out, want) {
				t.Errorf("Decode(Encode(x)) = %#v, want %#v", out, want)
			}
		})
	}
}

func TestBinaryCodecTime(t *testing.T) {
	c := BinaryCodec{}
	for _, tc := range []struct {
		name string
		t    time.Time
	}{
		{"utc", time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC)},
		{"local now", time.Now()},
		{"fixed +05:30", time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("IST", 5*3600+1800))},
		{"fixed -12:00", time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("", -12*3600))},
		{"odd offset", time.Date(1900, 1, 2, 3, 4, 5, 6, time.FixedZone("LMT", 3600+17))},
		{"zero", time.Time{}},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC)},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"year -5000", time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"far future", time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"max seconds", time.Unix(math.MaxInt64, 999999999).UTC()},
		{"min seconds local", time.Unix(math.MinInt64, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := c.Encode(tc.t, map[string]any{"at": tc.t})
			if err != nil {
				t.Fatalf("Encode error: %v", err)
			}
			created, out, err := c.Decode(data)
			if err != nil {
				t.Fatalf("Decode error: %v", err)
			}
			for what, got := range map[string]any{"created": created, "value": out["at"]} {
				if !codecEqual(got, tc.t) {
					t.Errorf("%s = %v, want %v (Equal and same offset)", what, got, tc.t)
				}
			}
			if tc.t.IsZero() && !created.IsZero() {
				t.Errorf("created.IsZero() = false for the zero time")
			}
			if tc.t.Location() == time.UTC && created.Location() != time.UTC {
				t.Errorf("created location = %v, want UTC", created.Location())
			}
		})
	}
}

func TestBinaryCodecDeterministic(t *testing.T) {
	c := BinaryCodec{}
	in := map[string]any{"nested": map[string]any{}, "smap": map[string]string{}}
	for i := range 100 {
		k := fmt.Sprintf("k%03d", i)
		in[k] = i
		in["nested"].(map[string]any)[k] = k
		in["smap"].(map[string]string)[k] = k
	}
	first, err := c.Encode(codecTestCreated, in)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		again, err := c.Encode(codecTestCreated, in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("two encodings of the same map differ")
		}
	}
}

func TestBinaryCodecGobFallback(t *testing.T) {
	c := BinaryCodec{}
	for _, v := range []any{
		codecTestPoint{X: 3, Y: 4, Label: "registered"},
		codecTestRole("editor"),
		[]float64{1, 2}, // registered by encoding/gob itself
	} {
		data, err := c.Encode(time.Time{}, map[string]any{"v": v})
		if err != nil {
			t.Fatalf("Encode(%T) error: %v", v, err)
		}
		if !bytes.Contains(data, []byte{binTagGob}) {
			t.Errorf("Encode(%T) did not use the gob tag", v)
		}
		_, out, err := c.Decode(data)
		if err != nil {
			t.Fatalf("Decode(Encode(%T)) error: %v", v, err)
		}
		if !reflect.DeepEqual(out["v"], v) {
			t.Errorf("gob round trip = %#v (%T), want %#v", out["v"], out["v"], v)
		}
	}
}

func TestBinaryCodecEncodeErrors(t *testing.T) {
	c := BinaryCodec{}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	cyclicSlice := []any{nil}
	cyclicSlice[0] = cyclicSlice
	for _, tc := range []struct {
		name string
		v    any
		want []string // substrings of the error message
	}{
		{"unregistered struct", codecTestUnregistered{A: 1}, []string{"core.codecTestUnregistered", "gob.Register", `"v"`}},
		{"unregistered nested", []any{1, codecTestUnregistered{}}, []string{"gob.Register"}},
		{"channel", make(chan int), []string{"chan int"}},
		{"func", func() {}, []string{"func()"}},
		{"cyclic map", cyclic, []string{"nesting deeper"}},
		{"cyclic slice", cyclicSlice, []string{"nesting deeper"}},
		{"too deep", codecNest(binMaxDepth + 1), []string{"nesting deeper"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := c.Encode(time.Now(), map[string]any{"v": tc.v})
			if err == nil {
				t.Fatalf("Encode = %d bytes, nil error; want an error", len(data))
			}
			if data != nil {
				t.Errorf("Encode returned data with an error")
			}
			if errors.Is(err, ErrCorrupt) {
				t.Errorf("Encode error %v wraps ErrCorrupt; it is an encoding error", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Encode error %q does not mention %q", err, s)
				}
			}
			if !strings.HasPrefix(err.Error(), "sessionkit: binary codec: ") {
				t.Errorf("Encode error %q lacks the package prefix", err)
			}
		})
	}
}

// codecNest returns a string nested in depth []any levels.
func codecNest(depth int) any {
	var v any = "leaf"
	for range depth {
		v = []any{v}
	}
	return v
}

func TestBinaryCodecDepthLimit(t *testing.T) {
	c := BinaryCodec{}
	data, err := c.Encode(time.Time{}, map[string]any{"v": codecNest(binMaxDepth)})
	if err != nil {
		t.Fatalf("Encode at the depth limit: %v", err)
	}
	if _, out, err := c.Decode(data); err != nil || !codecEqual(out["v"], codecNest(binMaxDepth)) {
		t.Fatalf("Decode at the depth limit = %v, %v", out, err)
	}
	nested := func(levels int, tag byte) []byte {
		var v []byte
		for range levels {
			if tag == binTagMap {
				v = append(v, binTagMap, 2, 1, 'k') // one entry, key "k"
			} else {
				v = append(v, binTagSlice, 2) // one element
			}
		}
		return binTestRecord(1, binTestEntry("v", append(v, binTagNil)...))
	}
	for _, tag := range []byte{binTagMap, binTagSlice} {
		if _, _, err := c.Decode(nested(binMaxDepth, tag)); err != nil {
			t.Errorf("Decode of %d levels (tag %d): %v", binMaxDepth, tag, err)
		}
		for _, levels := range []int{binMaxDepth + 1, 1_000_000} {
			if _, _, err := c.Decode(nested(levels, tag)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Decode of %d levels (tag %d) = %v, want ErrCorrupt", levels, tag, err)
			}
		}
	}
}

func TestBinaryCodecTruncated(t *testing.T) {
	c := BinaryCodec{}
	for name, in := range map[string]map[string]any{"rich": codecTestRich(), "session": codecTestSession()} {
		data, err := c.Encode(codecTestCreated, in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(data) {
			if _, _, err := c.Decode(data[:i]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: Decode(first %d of %d bytes) = %v, want ErrCorrupt", name, i, len(data), err)
			}
		}
		if _, _, err := c.Decode(append(data, 0)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode with a trailing byte = %v, want ErrCorrupt", name, err)
		}
	}
}

// binTestCheckDecode decodes data and checks what any input must satisfy:
// an error wraps ErrCorrupt, and a success re-encodes to the same state.
func binTestCheckDecode(t *testing.T, data []byte) {
	t.Helper()
	c := BinaryCodec{}
	created, values, err := c.Decode(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode(%q) error %v does not wrap ErrCorrupt", data, err)
		}
		return
	}
	if values == nil {
		t.Fatalf("Decode(%q) returned a nil map and no error", data)
	}
	again, err := c.Encode(created, values)
	if err != nil {
		t.Fatalf("Encode(Decode(%q)) error: %v", data, err)
	}
	created2, values2, err := c.Decode(again)
	if err != nil {
		t.Fatalf("Decode(Encode(Decode(%q))) error: %v", data, err)
	}
	if !codecEqual(created, created2) || !codecEqual(values, values2) {
		t.Fatalf("Decode(%q) = %v %#v, but after re-encoding %v %#v", data, created, values, created2, values2)
	}
	// The core's decoding of a buffer it owns (strings kept in the
	// buffer, not in a copy) reads the same.
	owned := bytes.Clone(data)
	created3, values3, err := decodeBinary(owned, true)
	if err != nil || !codecEqual(created, created3) || !codecEqual(values, values3) {
		t.Fatalf("decodeBinary(%q, owned) = %v %#v %v, Decode = %v %#v", data, created3, values3, err, created, values)
	}
}

// binTestCheckLazy: reading an owned record lazily (openBinaryLazy, then
// binLazy.get per key) agrees with decoding it, error for error and value
// for value. A record with a gob value is left to decoding (ok false),
// and so is a container value (whole), which the session must share.
func binTestCheckLazy(t *testing.T, data []byte) {
	t.Helper()
	owned := bytes.Clone(data)
	created, values, derr := decodeBinary(owned, true)
	lcreated, l, ok, lerr := openBinaryLazy(owned)
	binTestCheckPass(t, data, l, lerr == nil && ok)
	if derr != nil {
		// Refused for the same reason, or left to decoding, unless a
		// gob value, whose contents only decoding checks, comes first.
		if (lerr == nil && ok) || (lerr != nil && lerr != derr && !strings.Contains(derr.Error(), "gob")) {
			t.Fatalf("openBinaryLazy(%q) = ok %v, error %v; decodeBinary error %v", data, ok, lerr, derr)
		}
		return
	}
	if lerr != nil || !codecEqual(created, lcreated) {
		t.Fatalf("openBinaryLazy(%q) = %v, %v; decodeBinary created %v", data, lcreated, lerr, created)
	}
	if !ok {
		return
	}
	for k, want := range values {
		v, found, whole := l.get(k)
		if whole {
			switch want.(type) {
			case []byte, []string, []int, map[string]string, map[string]any, []any:
				continue
			}
			t.Fatalf("get(%q) of %q left %#v to a full decode", k, data, want)
		}
		if !found || !codecEqual(v, want) {
			t.Fatalf("get(%q) of %q = %#v, %v; decodeBinary has %#v", k, data, v, found, want)
		}
	}
	for _, k := range []string{"", "\x00", "zzzz\xff", "missing"} {
		if _, there := values[k]; there {
			continue
		}
		if v, found, whole := l.get(k); found || whole {
			t.Fatalf("get(%q) of %q = %#v, found %v, whole %v; decodeBinary has no such key", k, data, v, found, whole)
		}
	}
	binTestCheckMerge(t, data, l, created, values)
}

// binTestCheckMerge compares writing l, the lazily read record data, with
// changes (binLazy.merge) with encoding its decoded values with the same
// changes applied, for several sets of changes: the new record must
// decode to the same values (and be the same bytes when data is what
// Encode makes of its values), and be kept encoded as openBinaryLazy
// would keep it. It also checks that plain and binPlain agree with the
// decoded values.
func binTestCheckMerge(t *testing.T, data []byte, l binLazy, created time.Time, values map[string]any) {
	t.Helper()
	_, filed := values[userKey]
	_, written := values[writtenKey]
	_, id := values[idKey]
	if want := !filed && !written && !id; l.plain() != want || binPlain(data) != want {
		t.Fatalf("plain() of %q = %v, binPlain %v; want %v", data, l.plain(), binPlain(data), want)
	}
	keys := binSortedKeys(nil, values)
	canonical := false
	if enc, err := (BinaryCodec{}).Encode(created, values); err == nil {
		canonical = bytes.Equal(enc, data)
	}
	var plainKeys []string
	for _, k := range keys {
		if !ReservedKey(k) {
			plainKeys = append(plainKeys, k)
		}
	}
	type mergeCase struct {
		changes map[string]any
		ip      string
	}
	sets := []mergeCase{
		{changes: map[string]any{}},
		{changes: map[string]any{"": 7, "missing": deleted, "zzzz\xff": []int{1, 2}}, ip: "192.0.2.1"},
		{changes: map[string]any{"m": map[string]any{"n": []any{"x", 1.5}}, "a": codecTestCreated}, ip: "2001:db8::1"},
		{changes: map[string]any{}, ip: "192.0.2.3"}, // the address alone
	}
	if n := len(plainKeys); n > 0 {
		first, last, mid := plainKeys[0], plainKeys[n-1], plainKeys[n/2]
		sets = append(sets,
			mergeCase{changes: map[string]any{first: deleted, last: "changed"}},
			mergeCase{changes: map[string]any{mid: deleted, mid + "\x00": int64(-3), first + "\x00": nil}, ip: "198.51.100.7"},
			mergeCase{changes: map[string]any{first: []byte("b"), mid: uint8(9), last: deleted}},
			// One change: the entries after it are copied as one run.
			mergeCase{changes: map[string]any{first: "changed"}},
			mergeCase{changes: map[string]any{mid: "changed"}, ip: "192.0.2.9"},
		)
	}
	if len(plainKeys) > 1 {
		// Two adjacent entries replaced: no run between them.
		sets = append(sets, mergeCase{changes: map[string]any{plainKeys[0]: "x", plainKeys[1]: int64(2)}})
	}
	// More changes than merge sorts on its stack: every key of the record
	// changed or deleted, and new keys around them.
	many := map[string]any{"": "first", "\xff\xff": "last"}
	for i, k := range plainKeys {
		if i%2 == 0 {
			many[k] = deleted
		} else {
			many[k] = int64(i)
		}
		many[k+"+"] = k
	}
	for i := range 12 {
		many[fmt.Sprintf("new%02d", i)] = i
	}
	sets = append(sets, mergeCase{changes: many, ip: "192.0.2.12"})
	for _, c := range sets {
		state, want := binTestMerged(t, created, values, c.changes, c.ip)
		got, err := l.merge(created, changeList(c.changes), c.ip)
		if err != nil {
			t.Fatalf("merge of %q with %v, ip %q: %v", data, c.changes, c.ip, err)
		}
		if canonical && !bytes.Equal(got.data, want) {
			t.Fatalf("merge of %q with %v, ip %q = %q; Encode of the merged values = %q", data, c.changes, c.ip, got.data, want)
		}
		gcreated, gvalues, err := decodeBinary(got.data, false)
		if err != nil || !codecEqual(gcreated, created) || len(gvalues) != len(state) {
			t.Fatalf("merge of %q with %v, ip %q = %q: decodes to %v, %v, %v; want %v", data, c.changes, c.ip, got.data, gcreated, gvalues, err, state)
		}
		for k, v := range state {
			if !codecEqual(gvalues[k], v) {
				t.Fatalf("merge of %q with %v, ip %q: %q = %#v, want %#v", data, c.changes, c.ip, k, gvalues[k], v)
			}
		}
		_, ol, ok, err := openBinaryLazy(got.data)
		if err != nil || !ok || ol.n != got.n || ol.first != got.first {
			t.Fatalf("merge of %q with %v: kept as n %d, first %d; openBinaryLazy: %+v, %v, %v", data, c.changes, got.n, got.first, ol, ok, err)
		}
	}
	binTestCheckMergeOne(t, data, l, created, values, plainKeys)
}

// binTestCheckMergeOne changes one value that get has just read (the
// fast path, mergeOne, when the address is the record's) and compares the
// record with merge's of the same change without get: it must be the same
// bytes, kept as openBinaryLazy would keep it.
func binTestCheckMergeOne(t *testing.T, data []byte, l binLazy, created time.Time, values map[string]any, plainKeys []string) {
	t.Helper()
	recIP, _ := values[ipKey].(string)
	for _, k := range plainKeys {
		for _, v := range []any{"changed", deleted, int64(-5), nil} {
			for _, ip := range []string{recIP, "", "192.0.2.44"} {
				read := l
				read.at, read.end = 0, 0
				if _, found, whole := read.get(k); !found || whole {
					continue // get leaves it to a full decode: no fast path
				}
				fresh := l
				fresh.at, fresh.end = 0, 0
				want, err := fresh.merge(created, []change{{k, v}}, ip)
				if err != nil {
					t.Fatalf("merge of %q with %q: %v, ip %q: %v", data, k, v, ip, err)
				}
				_, fast, err := read.mergeOne(created, change{k, v}, ip)
				if err != nil || fast != (ip == recIP) {
					t.Fatalf("mergeOne of %q with %q: %v, ip %q (the record's %q): fast path %v, %v; want it when the address is the record's", data, k, v, ip, recIP, fast, err)
				}
				got, err := read.merge(created, []change{{k, v}}, ip)
				if err != nil || !bytes.Equal(got.data, want.data) || got.n != want.n || got.first != want.first {
					t.Fatalf("merge after get of %q with %q: %v, ip %q = %q (n %d, first %d), %v; without get %q (n %d, first %d)",
						data, k, v, ip, got.data, got.n, got.first, err, want.data, want.n, want.first)
				}
			}
		}
	}
}

// binTestMerged returns values (less the client address) with changes
// applied (a value, or deleted) and ip stored under ipKey, and what
// Encode makes of them: what merge must write.
func binTestMerged(t *testing.T, created time.Time, values, changes map[string]any, ip string) (map[string]any, []byte) {
	t.Helper()
	state := maps.Clone(values)
	if state == nil {
		state = map[string]any{}
	}
	delete(state, ipKey)
	for k, v := range changes {
		if isDeleted(v) {
			delete(state, k)
		} else {
			state[k] = v
		}
	}
	if ip != "" {
		state[ipKey] = ip
	}
	want, err := BinaryCodec{}.Encode(created, state)
	if err != nil {
		t.Fatal(err)
	}
	return state, want
}

// TestDecodeOwnedAllocations: decoding a buffer the core owns saves the
// copy of it, an allocation.
func TestDecodeOwnedAllocations(t *testing.T) {
	data, err := BinaryCodec{}.Encode(codecTestCreated, map[string]any{"user": "alice", "cart": "3 apples", "theme": "dark"})
	if err != nil {
		t.Fatal(err)
	}
	copied := testing.AllocsPerRun(100, func() { _, _, _ = decodeBinary(data, false) })
	owned := testing.AllocsPerRun(100, func() { _, _, _ = decodeBinary(data, true) })
	if owned != copied-1 {
		t.Errorf("decoding an owned buffer: %v allocations, a copied one %v; want one fewer", owned, copied)
	}
}

// TestDecodeStringsShareSlabs: string values are boxed from slabs of
// string headers, not one allocation each (see binReader.boxString). Each
// decoded value is a string equal to what was encoded, also across
// several slabs and in nested maps, and stays so after the input and
// the reader are gone and a garbage collection has run; and decoding six
// strings costs one allocation more than decoding six small ints (which
// box without one), where boxing each would cost six.
func TestDecodeStringsShareSlabs(t *testing.T) {
	values := map[string]any{}
	want := map[string]string{}
	for i := range 300 { // past the first slab (64) and the next ones
		k, v := fmt.Sprintf("k%03d", i), fmt.Sprintf("value-%d", i)
		values[k], want[k] = v, v
	}
	values["nested"] = map[string]any{"a": "inner-a", "b": 7, "c": "inner-c"}
	data, err := BinaryCodec{}.Encode(codecTestCreated, values)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := decodeBinary(data, false)
	if err != nil {
		t.Fatal(err)
	}
	clear(data) // the decoded strings are a copy
	runtime.GC()
	for k, v := range want {
		if s, ok := got[k].(string); !ok || s != v {
			t.Fatalf("%s = %#v, want the string %q", k, got[k], v)
		}
	}
	nested, _ := got["nested"].(map[string]any)
	if nested["a"] != "inner-a" || nested["b"] != 7 || nested["c"] != "inner-c" || fmt.Sprint(nested["c"]) != "inner-c" {
		t.Fatalf("nested = %#v, want [a:inner-a b:7 c:inner-c]", nested)
	}

	allocs := func(v any) float64 {
		m := map[string]any{}
		for i := range 6 {
			m[fmt.Sprintf("k%d", i)] = v
		}
		data, err := BinaryCodec{}.Encode(codecTestCreated, m)
		if err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(100, func() { _, _, _ = decodeBinary(data, true) })
	}
	if s, i := allocs("abcdef"), allocs(7); s != i+1 {
		t.Errorf("decoding six strings made %v allocations, six small ints %v; want one more (the slab)", s, i)
	}
}

func TestBinaryCodecByteChanges(t *testing.T) {
	rich := codecTestRich()
	t.Run("rich", func(t *testing.T) { binTestByteChanges(t, rich) })
	// Without its gob values, the lazy reading checks every change.
	delete(rich, "point")
	delete(rich, "role")
	t.Run("native", func(t *testing.T) { binTestByteChanges(t, rich) })
}

// binTestByteChanges checks decoding and lazy reading (binTestCheckDecode,
// binTestCheckLazy) of values' record after many changes of its bytes.
func binTestByteChanges(t *testing.T, values map[string]any) {
	data, err := BinaryCodec{}.Encode(codecTestCreated, values)
	if err != nil {
		t.Fatal(err)
	}
	binTestCheckLazy(t, data)
	// At every position, the byte values that matter most to varints,
	// tags and lengths, and a few others.
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, len(data))
	for i := range data {
		for _, v := range []byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, data[i] ^ 1, data[i] + 1, byte(rng.IntN(256))} {
			copy(buf, data)
			buf[i] = v
			binTestCheckDecode(t, buf)
			binTestCheckLazy(t, buf)
		}
	}
	// Random multi-byte changes, deletions and insertions, reproducibly.
	for range 5000 {
		b := append([]byte(nil), data...)
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b[i] ^= byte(1 + rng.IntN(255))
			case 1:
				b = append(b[:i], b[i+1:]...)
			case 2:
				b = append(b[:i], append([]byte{byte(rng.IntN(256))}, b[i:]...)...)
			}
		}
		binTestCheckDecode(t, b)
		binTestCheckLazy(t, b)
	}
}

func TestBinaryCodecCorrupt(t *testing.T) {
	header := binTestRecord(0)
	gobPoint, err := BinaryCodec{}.Encode(time.Time{}, map[string]any{"p": codecTestPoint{X: 1}})
	if err != nil {
		t.Fatal(err)
	}
	unknownName := bytes.Replace(gobPoint, []byte("codecTestPoint"), []byte("codecTestPoinX"), 1)
	gobOff := bytes.IndexByte(gobPoint[len(header):], binTagGob) + len(header)
	gobLen, n := binary.Uvarint(gobPoint[gobOff+1:])
	gobPayload := gobPoint[gobOff+1+n:]
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"magic only", []byte{binMagic}},
		{"wrong magic", append([]byte{0x00}, header[1:]...)},
		{"wrong version", append([]byte{binMagic, binVersion + 1}, header[2:]...)},
		{"unknown tag", binTestRecord(1, binTestEntry("k", 200))},
		{"tag after the last", binTestRecord(1, binTestEntry("k", binTagGob+1))},
		{"int8 out of range", binTestRecord(1, binTestEntry("k", binCat([]byte{binTagInt8}, binVarint(128))...))},
		{"int16 out of range", binTestRecord(1, binTestEntry("k", binCat([]byte{binTagInt16}, binVarint(-32769))...))},
		{"int32 out of range", binTestRecord(1, binTestEntry("k", binCat([]byte{binTagInt32}, binVarint(1<<31))...))},
		{"uint8 out of range", binTestRecord(1, binTestEntry("k", binCat([]byte{binTagUint8}, binUvarint(256))...))},
		{"uint16 out of range", binTestRecord(1, binTestEntry("k", binCat([]byte{binTagUint16}, binUvarint(1<<16))...))},
		{"uint32 out of range", binTestRecord(1, binTestEntry("k", binCat([]byte{binTagUint32}, binUvarint(1<<32))...))},
		{"varint overflow", binTestRecord(1, binTestEntry("k", binTagInt64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))},
		{"float64 short", binTestRecord(1, binTestEntry("k", binTagFloat64, 1, 2, 3))},
		{"nanoseconds too large", binCat([]byte{binMagic, binVersion}, binVarint(0), binUvarint(1e9), []byte{binZoneUTC, 0})},
		{"unknown zone", binCat([]byte{binMagic, binVersion}, binVarint(0), binUvarint(0), []byte{7, 0})},
		{"offset too large", binCat([]byte{binMagic, binVersion}, binVarint(0), binUvarint(0), []byte{binZoneOffset}, binVarint(1<<40), []byte{0})},
		{"keys out of order", binTestRecord(2, binTestEntry("b", binTagNil), binTestEntry("a", binTagNil))},
		{"duplicate keys", binTestRecord(2, binTestEntry("a", binTagTrue), binTestEntry("a", binTagFalse))},
		{"string map duplicate keys", binTestRecord(1, binTestEntry("m", binTagStringMap, 3, 1, 'a', 0, 1, 'a', 0))},
		{"nested map keys out of order", binTestRecord(1, binTestEntry("m", binTagMap, 3, 1, 'b', binTagNil, 1, 'a', binTagNil))},
		{"count beyond the entries", binTestRecord(5, binTestEntry("a", binTagNil))},
		{"trailing byte", append(binTestRecord(1, binTestEntry("a", binTagNil)), 0)},
		{"gob garbage", binTestRecord(1, binTestEntry("g", binTagGob, 3, 1, 2, 3))},
		{"gob empty", binTestRecord(1, binTestEntry("g", binTagGob, 0))},
		{"gob unregistered name", unknownName},
		{"gob trailing byte", binTestRecord(1, binTestEntry("g", binCat([]byte{binTagGob}, binUvarint(gobLen+1), gobPayload, []byte{0})...))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			created, values, err := BinaryCodec{}.Decode(tc.data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode = %v, %v, %v; want ErrCorrupt", created, values, err)
			}
			if values != nil || !created.IsZero() {
				t.Errorf("Decode returned values with an error: %v, %v", created, values)
			}
			if !strings.HasPrefix(err.Error(), "sessionkit: corrupt session record: binary codec: ") {
				t.Errorf("error %q lacks the expected prefix", err)
			}
		})
	}
}

func TestBinaryCodecHugeLengths(t *testing.T) {
	const huge = 256 << 20 // would show up in TotalAlloc if allocated
	cases := map[string][]byte{
		"count":      binTestRecord(huge),
		"count 2^63": binTestRecord(1 << 63),
		"key":        binTestRecord(1, binUvarint(huge), []byte("k")),
		"string":     binTestRecord(1, binTestEntry("k", binCat([]byte{binTagString}, binUvarint(huge), []byte("abc"))...)),
		"bytes":      binTestRecord(1, binTestEntry("k", binCat([]byte{binTagBytes}, binUvarint(huge), []byte("abc"))...)),
		"strings":    binTestRecord(1, binTestEntry("k", binCat([]byte{binTagStrings}, binUvarint(huge), []byte{0, 0, 0})...)),
		"ints":       binTestRecord(1, binTestEntry("k", binCat([]byte{binTagInts}, binUvarint(huge), []byte{0, 0, 0})...)),
		"string map": binTestRecord(1, binTestEntry("k", binCat([]byte{binTagStringMap}, binUvarint(huge), []byte{0, 0, 0})...)),
		"map":        binTestRecord(1, binTestEntry("k", binCat([]byte{binTagMap}, binUvarint(huge), []byte{0, 0, 0})...)),
		"slice":      binTestRecord(1, binTestEntry("k", binCat([]byte{binTagSlice}, binUvarint(huge), []byte{0, 0, 0})...)),
		"slice 2^64": binTestRecord(1, binTestEntry("k", binCat([]byte{binTagSlice}, binUvarint(math.MaxUint64), []byte{0, 0, 0})...)),
		"gob":        binTestRecord(1, binTestEntry("k", binCat([]byte{binTagGob}, binUvarint(huge), []byte{0, 0, 0})...)),
		"gob inner":  binTestRecord(1, binTestEntry("k", binTagGob, 6, 0xfc, 0x10, 0, 0, 0, 0)), // gob message claiming 256 MiB
	}
	for name, data := range cases {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := BinaryCodec{}.Decode(data)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode = %v, want ErrCorrupt", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: Decode of %d bytes allocated %d bytes", name, len(data), n)
		}
	}
	allocs := testing.AllocsPerRun(20, func() { _, _, _ = BinaryCodec{}.Decode(cases["slice"]) })
	if allocs > 3 {
		t.Errorf("Decode of a huge declared slice made %v allocations, want at most 3", allocs)
	}
}

func TestBinaryCodecDecodeAllocs(t *testing.T) {
	data, err := BinaryCodec{}.Encode(time.Now(), codecTestSession())
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := (BinaryCodec{}).Decode(data); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Decode of a 10-value session: %v allocations", allocs)
	if allocs > 8 {
		t.Errorf("Decode of a 10-value session made %v allocations, want at most 8 (the map's and one slab of string headers)", allocs)
	}
}

func TestBinaryCodecEncodeAllocs(t *testing.T) {
	session := codecTestSession()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := (BinaryCodec{}).Encode(codecTestCreated, session); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Encode of a 10-value session: %v allocations", allocs)
	if allocs > 3 {
		t.Errorf("Encode of a 10-value session made %v allocations, want at most 3", allocs)
	}
}

func TestBinaryCodecDecodeDoesNotAlias(t *testing.T) {
	in := map[string]any{
		"s": "string value", "b": []byte("byte value"), "strs": []string{"x", "y"},
		"smap": map[string]string{"k": "v"}, "nested": []any{"n", []byte("nb")},
	}
	data, err := BinaryCodec{}.Encode(time.Time{}, in)
	if err != nil {
		t.Fatal(err)
	}
	_, out, err := BinaryCodec{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'X'
	}
	if !codecEqual(out, in) {
		t.Fatalf("decoded values changed with the input: %#v", out)
	}
	// Appending to one decoded []byte must not overwrite another value.
	b := out["b"].([]byte)
	_ = append(b, "overwrite"...)
	if !codecEqual(out, in) {
		t.Fatalf("appending to a decoded []byte changed other values: %#v", out)
	}
}

func TestBinaryCodecConcurrent(t *testing.T) {
	c := BinaryCodec{}
	done := make(chan error)
	for g := range 4 {
		go func() {
			var err error
			for i := range 200 {
				in := map[string]any{"g": g, "i": i, "t": time.Unix(int64(i), 0).In(time.FixedZone("", 900*(i%96-48)))}
				var data []byte
				if data, err = c.Encode(time.Now(), in); err != nil {
					break
				}
				var out map[string]any
				if _, out, err = c.Decode(data); err != nil {
					break
				}
				if !codecEqual(out, in) {
					err = fmt.Errorf("round trip = %v, want %v", out, in)
					break
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestBinaryPlainAndMerge: a record holding any of the metadata a write
// reads or rewrites (the user, the last write while filed, the public id)
// is not plain, and one holding only other metadata (the client address,
// flash messages, client information) or none is; writing each with
// changes (binLazy.merge) gives what encoding its merged values gives.
func TestBinaryPlainAndMerge(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"user": "gopher", "cart": int64(3), "theme": "dark", "seen": codecTestCreated}
		maps.Copy(m, extra)
		return m
	}
	for _, c := range []struct {
		values map[string]any
		plain  bool
	}{
		{map[string]any{}, true},
		{base(nil), true},
		{base(map[string]any{ipKey: "192.0.2.1", flashPrefix + "1": "saved", agentKey: "curl", addrKey: "192.0.2.1"}), true},
		{base(map[string]any{retiredKey: true}), true},
		{base(map[string]any{userKey: "alice"}), false},
		{base(map[string]any{writtenKey: codecTestCreated}), false},
		{base(map[string]any{idKey: "public"}), false},
		{base(map[string]any{ipKey: "192.0.2.1", idKey: "public", userKey: "alice", userSinceKey: codecTestCreated}), false},
		{base(map[string]any{"": 1}), true},
		{base(map[string]any{"": 1, userKey: "alice"}), false}, // "" sorts before the metadata
	} {
		data, err := BinaryCodec{}.Encode(codecTestCreated, c.values)
		if err != nil {
			t.Fatal(err)
		}
		_, l, ok, err := openBinaryLazy(data)
		if err != nil || !ok {
			t.Fatalf("openBinaryLazy(%v) = %v, %v", c.values, ok, err)
		}
		if l.plain() != c.plain || binPlain(data) != c.plain {
			t.Errorf("%v: plain() = %v, binPlain %v; want %v", c.values, l.plain(), binPlain(data), c.plain)
		}
		binTestCheckLazy(t, data)
	}
	for _, data := range [][]byte{nil, {binMagic}, {binMagic, binVersion, 0}, []byte("not a record")} {
		if binPlain(data) {
			t.Errorf("binPlain(%q) = true, want false for a record it cannot read", data)
		}
	}
}

// TestKeyCompare: keyCompare orders as strings.Compare does, for keys
// that differ in their first byte, later, in length only, or not at all,
// bytes above 0x7f and the empty key included.
func TestKeyCompare(t *testing.T) {
	keys := []string{"", "\x00", "\x00ip", "\x00user", "a", "ab", "abc", "abd", "b", "visits", "visitt", "\x7f", "\x80", "\xff", "\xff\x00", "é"}
	sign := func(c int) int { return min(max(c, -1), 1) }
	for _, a := range keys {
		for _, b := range keys {
			if got, want := sign(keyCompare(a, b)), strings.Compare(a, b); got != want {
				t.Errorf("keyCompare(%q, %q) has sign %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestBinReaderVarints: the one-byte paths of uvarint and varint read
// what encoding/binary reads, for every first byte, followed by more
// bytes or by none, and leave the reader after the same number of bytes.
func TestBinReaderVarints(t *testing.T) {
	for c := range 256 {
		for _, tail := range [][]byte{nil, {0x01}, {0x80, 0x01}} {
			in := append([]byte{byte(c)}, tail...)
			wantU, nU := binary.Uvarint(in)
			r := binReader{b: in}
			gotU, err := r.uvarint()
			if (err == nil) != (nU > 0) || err == nil && (gotU != wantU || r.off != nU) {
				t.Errorf("uvarint of % x = %d, %v, at %d; encoding/binary reads %d in %d bytes", in, gotU, err, r.off, wantU, nU)
			}
			wantV, nV := binary.Varint(in)
			r = binReader{b: in}
			gotV, err := r.varint()
			if (err == nil) != (nV > 0) || err == nil && (gotV != wantV || r.off != nV) {
				t.Errorf("varint of % x = %d, %v, at %d; encoding/binary reads %d in %d bytes", in, gotV, err, r.off, wantV, nV)
			}
		}
	}
	for _, in := range [][]byte{nil, {}} {
		r := binReader{b: in}
		if _, err := r.uvarint(); err == nil {
			t.Errorf("uvarint of %v: no error", in)
		}
		if _, err := r.varint(); err == nil {
			t.Errorf("varint of %v: no error", in)
		}
	}
}

// TestBinReaderStr: str's one-byte-length path reads what strLong (the
// general one) reads, for lengths around the one-byte limit, whole or cut
// short at every point, and leaves the reader at the same offset.
func TestBinReaderStr(t *testing.T) {
	for _, n := range []int{0, 1, 2, 126, 127, 128, 129, 300} {
		full := binAppendString(nil, strings.Repeat("k", n))
		for cut := 0; cut <= len(full); cut++ {
			in := full[:cut]
			for _, lead := range []int{0, 3} {
				b := append(make([]byte, lead), in...)
				r1 := binReader{b: b, s: string(b), off: lead}
				r2 := r1
				got, err1 := r1.str()
				want, err2 := r2.strLong()
				if got != want || (err1 == nil) != (err2 == nil) || r1.off != r2.off {
					t.Errorf("length %d cut at %d: str = %d bytes, %v, at %d; strLong = %d bytes, %v, at %d",
						n, cut, len(got), err1, r1.off, len(want), err2, r2.off)
				}
				if cut == len(full) && (err1 != nil || len(got) != n) {
					t.Errorf("length %d, whole: str = %d bytes, %v", n, len(got), err1)
				}
			}
		}
	}
}

// TestMergeIntoNone: a new session's first record, merged into binNone
// (see Session.encodableNew), is the bytes Encode makes of its values and
// is kept encoded as openBinaryLazy would keep it.
func TestMergeIntoNone(t *testing.T) {
	many := map[string]any{}
	for i := range 12 {
		many[fmt.Sprintf("k%02d", 11-i)] = i
	}
	many["gone"] = deleted
	for _, c := range []struct {
		changes map[string]any
		ip      string
	}{
		{changes: map[string]any{"user": "alice"}},
		{changes: map[string]any{"user": "alice"}, ip: "192.0.2.1"},
		{changes: map[string]any{"b": int64(-2), "a": true, "": nil, "c": 1.5, "d": deleted}, ip: "2001:db8::1"},
		{changes: many, ip: "198.51.100.7"},
	} {
		_, want := binTestMerged(t, codecTestCreated, nil, c.changes, c.ip)
		got, err := binNone.merge(codecTestCreated, changeList(c.changes), c.ip)
		if err != nil || !bytes.Equal(got.data, want) {
			t.Fatalf("merge into no entries of %v, ip %q = %q, %v; Encode = %q", c.changes, c.ip, got.data, err, want)
		}
		_, ol, ok, err := openBinaryLazy(got.data)
		if err != nil || !ok || ol.n != got.n || ol.first != got.first {
			t.Fatalf("merge into no entries of %v: kept as n %d, first %d; openBinaryLazy: %+v, %v, %v", c.changes, got.n, got.first, ol, ok, err)
		}
	}
	if len(binNone.data) != 0 || binNone.n != 0 {
		t.Fatalf("binNone = %+v after the merges, want it empty", binNone)
	}
}

// TestMergeIntoNoneAllocations: merging into binNone sizes the record's
// buffer once, header included: one allocation.
func TestMergeIntoNoneAllocations(t *testing.T) {
	changes := []change{{"user", "alice"}}
	local := time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.FixedZone("X", -12*3600))
	if n := testing.AllocsPerRun(100, func() { _, _ = binNone.merge(local, changes, "") }); n != 1 {
		t.Errorf("merge into no entries: %v allocations, want 1", n)
	}
}

// binTestCheckPass walks the entries of data with pass, which reads only
// each value's extent, and with value in skip mode: on a record
// openBinaryLazy checked (checked, kept as l) both must end every entry
// at the same offset. On any other input pass must not panic.
func binTestCheckPass(t *testing.T, data []byte, l binLazy, checked bool) {
	t.Helper()
	if !checked {
		r, _, n, err := binOpen(data, false)
		if err != nil {
			return
		}
		for range min(n, 64) {
			if _, err := r.str(); err != nil || r.pass() != nil {
				return
			}
		}
		return
	}
	a, b := l.reader(), l.reader()
	for i := range l.n {
		if _, err := a.str(); err != nil {
			t.Fatalf("entry %d of %q: key: %v", i, data, err)
		}
		b.off = a.off
		if err := a.pass(); err != nil {
			t.Fatalf("pass over entry %d of %q: %v", i, data, err)
		}
		if _, err := b.value(0); err != nil || a.off != b.off {
			t.Fatalf("entry %d of %q: pass ends at %d, value at %d (%v)", i, data, a.off, b.off, err)
		}
	}
}

// TestBinReaderPass: pass ends each kind of value where value does,
// numbers of one to ten varint bytes and times with an offset included.
func TestBinReaderPass(t *testing.T) {
	values := map[string]any{
		"nil": nil, "t": true, "f": false, "s": "text", "e": "",
		"i": -1, "i8": int8(-128), "i16": int16(300), "i32": int32(-70000), "i64": int64(math.MinInt64),
		"u": uint(1), "u8": uint8(255), "u16": uint16(65535), "u32": uint32(1 << 31), "u64": uint64(math.MaxUint64),
		"f32": float32(1.5), "f64": math.Inf(-1),
		"utc": time.Unix(1<<40, 999999999).UTC(), "zone": time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -9*3600-1800)),
		"b": []byte("x"), "ss": []string{"a"}, "is": []int{1, -2}, "sm": map[string]string{"a": "b"},
		"m": map[string]any{"k": int64(7)}, "sl": []any{"x", 2.5},
	}
	data, err := BinaryCodec{}.Encode(codecTestCreated, values)
	if err != nil {
		t.Fatal(err)
	}
	_, l, ok, err := openBinaryLazy(data)
	if err != nil || !ok || int(l.n) != len(values) {
		t.Fatalf("openBinaryLazy: %+v, %v, %v", l, ok, err)
	}
	binTestCheckPass(t, data, l, true)
	for i := range len(data) { // every truncation: no panic
		binTestCheckPass(t, data[:i], binLazy{}, false)
	}
}
