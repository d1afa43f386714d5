package core

import (
	"errors"
	"testing"
)

// codecFuzzSeeds are records that cover every tag and shape; the committed
// corpus under testdata/fuzz holds more, including hand-made corrupt ones.
func codecFuzzSeeds(f *testing.F, c Codec) {
	f.Helper()
	for _, values := range []map[string]any{
		nil,
		codecTestSession(),
		codecTestRich(),
		{"deep": codecNest(binMaxDepth)},
	} {
		data, err := c.Encode(codecTestCreated, values)
		if err != nil {
			// JSON cannot encode some of the rich values; skip those seeds.
			continue
		}
		f.Add(data)
	}
}

func FuzzBinaryCodecDecode(f *testing.F) {
	codecFuzzSeeds(f, BinaryCodec{})
	f.Fuzz(func(t *testing.T, data []byte) {
		binTestCheckDecode(t, data)
		binTestCheckLazy(t, data)
	})
}

func FuzzJSONCodecDecode(f *testing.F) {
	codecFuzzSeeds(f, JSONCodec{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := JSONCodec{}
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
			t.Fatalf("Decode(%s) (re-encoded from %q) error: %v", again, data, err)
		}
		if !created.Equal(created2) || !codecEqual(values, values2) {
			t.Fatalf("Decode(%q) = %v %#v, but after re-encoding %v %#v", data, created, values, created2, values2)
		}
		_, o1 := created.Zone()
		_, o2 := created2.Zone()
		if o1 != o2 {
			t.Fatalf("created offset %d became %d after re-encoding", o1, o2)
		}
	})
}
