package core

import (
	"bytes"
	"encoding/gob"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestJSONCodecRoundTrip(t *testing.T) {
	c := JSONCodec{}
	at := time.Date(2024, 5, 1, 12, 0, 0, 5, time.FixedZone("", -7*3600))
	for _, tc := range []struct {
		name    string
		in, out any // out: what JSON gives back
	}{
		{"nil", nil, nil},
		{"string", "héllo <b>&", "héllo <b>&"},
		{"bool", true, true},
		{"int", 42, float64(42)},
		{"int64", int64(-7), float64(-7)},
		{"uint8", uint8(200), float64(200)},
		{"float64", 2.5, 2.5},
		{"negative zero", math.Copysign(0, -1), math.Copysign(0, -1)},
		{"2^53", int64(1 << 53), float64(1 << 53)},
		{"bytes", []byte("hi"), "aGk="},
		{"time", at, "2024-05-01T12:00:00.000000005-07:00"},
		{"strings", []string{"a", "b"}, []any{"a", "b"}},
		{"ints", []int{1, 2}, []any{float64(1), float64(2)}},
		{"string map", map[string]string{"k": "v"}, map[string]any{"k": "v"}},
		{"nested", map[string]any{"a": []any{1, "x", nil, map[string]any{"b": false}}},
			map[string]any{"a": []any{float64(1), "x", nil, map[string]any{"b": false}}}},
		{"struct", codecTestPoint{X: 1, Y: 2, Label: "p"}, map[string]any{"X": float64(1), "Y": float64(2), "Label": "p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := c.Encode(at, map[string]any{"v": tc.in})
			if err != nil {
				t.Fatalf("Encode(%#v) error: %v", tc.in, err)
			}
			created, values, err := c.Decode(data)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", data, err)
			}
			if !codecEqual(created, at) {
				t.Errorf("created = %v, want %v", created, at)
			}
			if got, ok := values["v"]; !ok || len(values) != 1 || !codecEqual(got, tc.out) {
				t.Errorf("Decode(%s) = %#v, want v: %#v", data, values, tc.out)
			}
		})
	}
}

func TestJSONCodecFormat(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	data, err := JSONCodec{}.Encode(at, map[string]any{"user": "ada", "n": 3})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"created":"2024-05-01T12:00:00.123456789Z","values":{"n":3,"user":"ada"}}`
	if string(data) != want {
		t.Errorf("Encode = %s, want %s", data, want)
	}
	data, err = JSONCodec{}.Encode(time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"created":"0001-01-01T00:00:00Z","values":{}}`; string(data) != want {
		t.Errorf("Encode(zero, nil) = %s, want %s", data, want)
	}
}

func TestJSONCodecCreated(t *testing.T) {
	for _, at := range []time.Time{
		{}, time.Now(), codecTestCreated, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", 3600+1800)),
	} {
		data, err := JSONCodec{}.Encode(at, nil)
		if err != nil {
			t.Fatalf("Encode(%v) error: %v", at, err)
		}
		created, values, err := JSONCodec{}.Decode(data)
		if err != nil {
			t.Fatalf("Decode(%s) error: %v", data, err)
		}
		if !codecEqual(created, at) {
			t.Errorf("Decode(%s) created = %v, want %v", data, created, at)
		}
		if values == nil || len(values) != 0 {
			t.Errorf("Decode(%s) values = %#v, want an empty map", data, values)
		}
	}
}

func TestJSONCodecLenientShapes(t *testing.T) {
	for _, in := range []string{
		`{}`,
		`{"values":null}`,
		`{"created":null,"values":{}}`,
		`{"created":"2024-01-01T00:00:00Z","values":{},"extra":[1,{"x":2}]}`,
		"{\"values\":{}}\n",
	} {
		_, values, err := JSONCodec{}.Decode([]byte(in))
		if err != nil {
			t.Errorf("Decode(%s) error: %v", in, err)
			continue
		}
		if values == nil || len(values) != 0 {
			t.Errorf("Decode(%s) values = %#v, want an empty non-nil map", in, values)
		}
	}
}

func TestJSONCodecEncodeErrors(t *testing.T) {
	for name, v := range map[string]any{
		"channel":  make(chan int),
		"func":     func() {},
		"NaN":      math.NaN(),
		"infinity": math.Inf(1),
		"complex":  complex(1, 2),
	} {
		data, err := JSONCodec{}.Encode(time.Now(), map[string]any{"v": v})
		if err == nil {
			t.Errorf("%s: Encode = %s, nil error; want an error", name, data)
			continue
		}
		if !strings.HasPrefix(err.Error(), "sessionkit: json codec: encode: ") {
			t.Errorf("%s: error %q lacks the expected prefix", name, err)
		}
	}
	if _, err := (JSONCodec{}).Encode(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), nil); err == nil {
		t.Error("Encode of a created time in year 10000: nil error, want an error")
	}
}

func TestJSONCodecCorrupt(t *testing.T) {
	var gobMap bytes.Buffer
	if err := gob.NewEncoder(&gobMap).Encode(map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	binary, err := BinaryCodec{}.Encode(time.Now(), codecTestSession())
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"nil":                nil,
		"empty":              {},
		"leading space":      []byte(` {}`),
		"array":              []byte(`[]`),
		"null":               []byte(`null`),
		"string":             []byte(`"x"`),
		"binary record":      binary,
		"gob":                gobMap.Bytes(),
		"unterminated":       []byte(`{"values":{}`),
		"trailing garbage":   []byte(`{"values":{}} x`),
		"two objects":        []byte(`{}{}`),
		"values not object":  []byte(`{"values":[1]}`),
		"created not string": []byte(`{"created":5}`),
		"created not a time": []byte(`{"created":"yesterday"}`),
		"number too large":   []byte(`{"values":{"n":1e400}}`),
		"bad escape":         []byte(`{"values":{"s":"\x"}}`),
	} {
		created, values, err := JSONCodec{}.Decode(in)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode = %v, %v, %v; want ErrCorrupt", name, created, values, err)
			continue
		}
		if values != nil {
			t.Errorf("%s: Decode returned values with an error", name)
		}
		if !strings.HasPrefix(err.Error(), "sessionkit: corrupt session record: json codec: ") {
			t.Errorf("%s: error %q lacks the expected prefix", name, err)
		}
	}
}

func TestJSONCodecTruncated(t *testing.T) {
	data, err := JSONCodec{}.Encode(codecTestCreated, map[string]any{"a": []any{1, "x"}, "b": map[string]any{"c": nil}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(data) {
		if _, _, err := (JSONCodec{}).Decode(data[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode(%s) = %v, want ErrCorrupt", data[:i], err)
		}
	}
}

// jsonTestNested returns a record whose value "v" is levels arrays deep,
// with text (which may hold brackets) inside the innermost one.
func jsonTestNested(levels int, text string) []byte {
	return []byte(`{"values":{"v":` + strings.Repeat("[", levels) + text + strings.Repeat("]", levels) + `}}`)
}

func TestJSONCodecDepth(t *testing.T) {
	c := JSONCodec{}
	// The record and "values" are two levels, so 62 arrays reach the limit.
	inside := jsonMaxDepth - 2
	if _, values, err := c.Decode(jsonTestNested(inside, "")); err != nil || values["v"] == nil {
		t.Errorf("Decode at the depth limit = %v, %v; want success", values, err)
	}
	for _, levels := range []int{inside + 1, 100_000} {
		if _, _, err := c.Decode(jsonTestNested(levels, "")); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode of %d nested arrays = %v, want ErrCorrupt", levels, err)
		}
	}
	objects := `{"values":{"v":` + strings.Repeat(`{"a":`, inside+1) + "1" + strings.Repeat("}", inside+1) + "}}"
	if _, _, err := c.Decode([]byte(objects)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decode of %d nested objects = %v, want ErrCorrupt", inside+1, err)
	}
	// Brackets inside strings, after escaped quotes and backslashes, are text.
	for _, s := range []string{
		`"` + strings.Repeat("[{", 100) + `"`,
		`"\"` + strings.Repeat("[", 100) + `"`,
		`"\\\"\\` + `"` + `,"` + strings.Repeat("{", 100) + `"`,
	} {
		if _, _, err := c.Decode(jsonTestNested(inside, s)); err != nil {
			t.Errorf("Decode with brackets in the string %s: %v", s, err)
		}
	}
}

func TestJSONCodecCrossFeed(t *testing.T) {
	data, err := JSONCodec{}.Encode(time.Now(), codecTestSession())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := (BinaryCodec{}).Decode(data); !errors.Is(err, ErrCorrupt) {
		t.Errorf("BinaryCodec.Decode(JSON record) = %v, want ErrCorrupt", err)
	}
	var gobMap bytes.Buffer
	if err := gob.NewEncoder(&gobMap).Encode(map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"gob": gobMap.Bytes(), "text": []byte("hello"), "json array": []byte(`[1]`)} {
		if _, _, err := (BinaryCodec{}).Decode(in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("BinaryCodec.Decode(%s) = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestJSONCodecInvalidUTF8: invalid UTF-8 in a key or in a string inside
// a value is an error that names the key but never the value, instead of
// turning into U+FFFD on the next load (where two keys can merge).
func TestJSONCodecInvalidUTF8(t *testing.T) {
	type inner struct{ Name string }
	for name, values := range map[string]map[string]any{
		"key":          {"a\xffb": 1},
		"string":       {"k": "secret\xff"},
		"[]string":     {"k": []string{"ok", "secret\xfe"}},
		"[]any":        {"k": []any{1, "secret\xc3"}},
		"map value":    {"k": map[string]any{"x": "secret\xff"}},
		"map key":      {"k": map[string]int{"secret\xff": 1}},
		"struct field": {"k": inner{Name: "secret\xff"}},
	} {
		_, err := JSONCodec{}.Encode(time.Now(), values)
		if err == nil {
			t.Errorf("%s: Encode of invalid UTF-8 = nil error, want an error", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "secret") || !strings.Contains(msg, "UTF-8") ||
			!(strings.Contains(msg, `"k"`) || strings.Contains(msg, `"a\xffb"`)) {
			t.Errorf("%s: error %q, want one that names the key, says UTF-8, and holds no value", name, msg)
		}
	}
	if _, err := (JSONCodec{}).Encode(time.Now(), map[string]any{"k": "naïve ✓", "b": []byte{0xff}}); err != nil {
		t.Errorf("Encode of valid UTF-8 and of []byte (base64) = %v, want nil", err)
	}
}
