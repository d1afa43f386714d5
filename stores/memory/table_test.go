package memory

import (
	"math/rand/v2"
	"testing"
)

// check verifies t's invariants against want, the records it must hold
// (key to version): every record is found where its slot says, each slot
// names a distinct position below n with its key's hash, the slab past n
// is zeroed, and the chunks are laid out as table documents.
func (tb *table) check(t *testing.T, want map[id]uint64) {
	t.Helper()
	if tb.n != len(want) {
		t.Fatalf("n = %d, want %d", tb.n, len(want))
	}
	for k, v := range want {
		_, p := tb.find(&k, hashKey(&k))
		if p < 0 || tb.at(p).version != v {
			t.Fatalf("find(%x) = %d, want the record of version %d", k[:4], p, v)
		}
	}
	seen := make(map[int]bool)
	for _, s := range tb.slots {
		if s == 0 {
			continue
		}
		p := int(uint32(s)) - 1
		if p < 0 || p >= tb.n || seen[p] {
			t.Fatalf("slot names position %d (n %d, seen %v)", p, tb.n, seen[p])
		}
		seen[p] = true
		if h := hashKey(&tb.at(p).key); uint32(s>>32) != h {
			t.Fatalf("slot of position %d has hash %x, its key %x", p, s>>32, h)
		}
	}
	if len(seen) != tb.n {
		t.Fatalf("%d slots in use, want %d", len(seen), tb.n)
	}
	if tb.n > 0 && tb.n*4 > len(tb.slots)*3 {
		t.Fatalf("%d records in %d slots: more than 3/4 full", tb.n, len(tb.slots))
	}
	for c, chunk := range tb.recs {
		if len(tb.recs) > 1 && len(chunk) != chunkSize {
			t.Fatalf("chunk %d of %d holds %d records, want %d", c, len(tb.recs), len(chunk), chunkSize)
		}
		for j := range chunk {
			r := &chunk[j]
			zero := r.key == (id{}) && r.data == nil && r.expiry == 0 && r.version == 0 && r.filed == nil
			if p := c<<chunkShift + j; p >= tb.n && !zero {
				t.Fatalf("position %d past n = %d is not zeroed", p, tb.n)
			}
		}
	}
	if need := (tb.n + chunkMask) >> chunkShift; len(tb.recs) > need+1 {
		t.Fatalf("%d chunks for %d records, want at most %d", len(tb.recs), tb.n, need+1)
	}
}

// tableKey returns the key of i: keys differing in their first bytes
// only when sparse, random otherwise.
func tableKey(i int, sparse bool) id {
	var k id
	if sparse {
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		return k
	}
	r := rand.New(rand.NewPCG(uint64(i), 7))
	for j := range k {
		k[j] = byte(r.Uint32())
	}
	return k
}

// TestTable checks the table against a map through random adds, removes
// and shrinks, growing to several chunks and emptying again, with random
// keys and with keys that differ in a few bits only.
func TestTable(t *testing.T) {
	for _, sparse := range []bool{false, true} {
		var tb table
		want := make(map[id]uint64)
		r := rand.New(rand.NewPCG(1, 2))
		version := uint64(0)
		step := func(size int) {
			i := r.IntN(size)
			k := tableKey(i, sparse)
			h := hashKey(&k)
			slot, p := tb.find(&k, h)
			if _, ok := want[k]; ok != (p >= 0) {
				t.Fatalf("find(key %d) = %d, want found %v", i, p, ok)
			}
			version++
			switch {
			case p >= 0 && r.IntN(2) == 0:
				tb.remove(slot, p)
				delete(want, k)
			case p >= 0:
				tb.at(p).version = version
				want[k] = version
			default:
				tb.add(&k, h, entry{data: []byte("x"), version: version})
				want[k] = version
			}
		}
		// Grow to about 4000 records and shrink back, twice.
		for round, size := range []int{20, 6000, 6000, 40, 6000, 10} {
			for range 20_000 {
				step(size)
			}
			tb.check(t, want)
			if size < 100 { // empty the table
				for k := range want {
					slot, p := tb.find(&k, hashKey(&k))
					tb.remove(slot, p)
					delete(want, k)
				}
			}
			tb.check(t, want)
			tb.shrink()
			tb.check(t, want)
			t.Logf("sparse %v round %d: %d records, %d slots, %d chunks", sparse, round, tb.n, len(tb.slots), len(tb.recs))
		}
		if tb.n != 0 || tb.recs != nil || tb.slots != nil {
			t.Errorf("emptied table after shrink: n %d, %d chunks, %d slots; want none", tb.n, len(tb.recs), len(tb.slots))
		}
	}
}

// TestTableShrinks checks that a sweep gives back an emptied table's room:
// a chunk and index sized for the records left.
func TestTableShrinks(t *testing.T) {
	var tb table
	want := make(map[id]uint64)
	for i := range 5000 {
		k := tableKey(i, false)
		tb.add(&k, hashKey(&k), entry{version: uint64(i + 1)})
		want[k] = uint64(i + 1)
	}
	for i := 10; i < 5000; i++ {
		k := tableKey(i, false)
		slot, p := tb.find(&k, hashKey(&k))
		tb.remove(slot, p)
		delete(want, k)
	}
	if len(tb.recs) > 1 {
		// Removals drop all but one spare chunk.
		if len(tb.recs) != 2 {
			t.Fatalf("%d chunks for 10 records after removals, want 2 at most", len(tb.recs))
		}
	}
	tb.shrink()
	tb.check(t, want)
	if len(tb.recs) != 1 || len(tb.recs[0]) != 16 || len(tb.slots) != 16 {
		t.Fatalf("after shrink: %d chunks (first %d records), %d slots; want 1 chunk of 16, 16 slots",
			len(tb.recs), len(tb.recs[0]), len(tb.slots))
	}
}
