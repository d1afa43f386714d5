package core

import (
	"bytes"
	"encoding/gob"
	"testing"
	"time"
)

// The benchmarks encode and decode the same 10-value session
// (codecTestSession) with each codec, and with plain encoding/gob of the
// map for comparison: that is what most session libraries store.

func BenchmarkBinaryCodecEncode(b *testing.B) {
	codecBenchEncode(b, BinaryCodec{})
}

func BenchmarkBinaryCodecDecode(b *testing.B) {
	codecBenchDecode(b, BinaryCodec{})
}

func BenchmarkJSONCodecEncode(b *testing.B) {
	codecBenchEncode(b, JSONCodec{})
}

func BenchmarkJSONCodecDecode(b *testing.B) {
	codecBenchDecode(b, JSONCodec{})
}

func codecBenchEncode(b *testing.B, c Codec) {
	session := codecTestSession()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(codecTestCreated, session); err != nil {
			b.Fatal(err)
		}
	}
}

func codecBenchDecode(b *testing.B, c Codec) {
	data, err := c.Encode(codecTestCreated, codecTestSession())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGobMap is the baseline: encoding/gob of the session map with a
// fresh Encoder or Decoder per record, as session stores use it.
func BenchmarkGobMap(b *testing.B) {
	session := codecTestSession()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(session); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out bytes.Buffer
			if err := gob.NewEncoder(&out).Encode(session); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCodecSizes reports the record size of the benchmark session in each
// format, and checks the binary one is the smallest.
func TestCodecSizes(t *testing.T) {
	session := codecTestSession()
	bin, err := BinaryCodec{}.Encode(time.Now(), session)
	if err != nil {
		t.Fatal(err)
	}
	js, err := JSONCodec{}.Encode(time.Now(), session)
	if err != nil {
		t.Fatal(err)
	}
	var g bytes.Buffer
	if err := gob.NewEncoder(&g).Encode(session); err != nil {
		t.Fatal(err)
	}
	t.Logf("10-value session: binary %d bytes, JSON %d bytes, gob %d bytes", len(bin), len(js), g.Len())
	if len(bin) >= len(js) || len(bin) >= g.Len() {
		t.Errorf("binary record (%d bytes) is not smaller than JSON (%d) and gob (%d)", len(bin), len(js), g.Len())
	}
}
