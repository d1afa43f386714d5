package core

import (
	"bytes"
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
		binTestCheckMergeNone(t, data)
	})
}

// binTestCheckMergeNone writes the values of data, when it decodes, as a
// new session's first record is written (merged into binNone, see
// Session.encodableNew): the record must be the bytes Encode makes of
// them, or, when they hold a gob-encoded value (gob writes a map's
// entries in random order), decode to them.
func binTestCheckMergeNone(t *testing.T, data []byte) {
	t.Helper()
	created, values, err := decodeBinary(data, false)
	if err != nil {
		return
	}
	state := map[string]any{}
	var changes []change
	for k, v := range values {
		if !ReservedKey(k) {
			changes = append(changes, change{k, v})
			state[k] = v
		}
	}
	ip, _ := values[ipKey].(string)
	if ip != "" {
		state[ipKey] = ip
	}
	want, err := BinaryCodec{}.Encode(created, state)
	if err != nil {
		t.Fatalf("Encode of the values %#v decoded from %q: %v", state, data, err)
	}
	got, err := binNone.merge(created, changes, ip)
	if err != nil {
		t.Fatalf("merge into no entries of the values of %q: %v", data, err)
	}
	if _, _, noGob, _ := openBinaryLazy(want); noGob {
		if !bytes.Equal(got.data, want) {
			t.Fatalf("merge into no entries of the values of %q = %q; Encode = %q", data, got.data, want)
		}
		return
	}
	gcreated, gvalues, err := decodeBinary(got.data, false)
	if err != nil || !codecEqual(gcreated, created) || !codecEqual(gvalues, state) {
		t.Fatalf("merge into no entries of the values of %q = %q: decodes to %v, %#v, %v; want %v, %#v", data, got.data, gcreated, gvalues, err, created, state)
	}
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
