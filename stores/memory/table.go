package memory

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// A table is the hash table of one shard, built for a small footprint. A
// Go map[id]entry keeps each key and entry inline in its slots, which are
// between 44% and 87% full: at a million records, 2.3 slots of 96 bytes
// per record. A table keeps its records densely (positions 0 to n-1) in
// a slab of fixed-size chunks, and finds them through an open-addressed
// index of 8-byte slots (linear probing, at most 3/4 full).
//
// Deletion moves the slab's last record into the hole, so that the slab
// stays dense and its emptied tail chunks can be given back, and shifts
// the probe sequence back over the freed index slot, so that the index
// needs no tombstones. Positions therefore change with every deletion:
// one is valid only until the table next changes.
type table struct {
	// slots is the index: 0 for an empty slot, else the record's key hash
	// in the high 32 bits and its slab position plus one in the low 32.
	// Its length is a power of two (or zero when the table is empty).
	slots []uint64
	// recs is the slab: record p is recs[p>>chunkShift][p&chunkMask].
	// Every chunk is chunkSize records long, except a single first chunk,
	// which grows from minChunk by doubling, so that a small table stays
	// small. Beyond the chunks the records need, one more is kept, so that
	// records coming and going at a chunk's edge do not allocate each time.
	recs [][]rec
	n    int // records held: positions 0 to n-1
}

// rec is one record of a table's slab: its key and its entry.
type rec struct {
	key id
	entry
}

const (
	// chunkShift sizes a chunk at 512 records of 80 bytes: 40 kB, a
	// whole number of 8 kB pages, which a large allocation (over 32 kB)
	// takes with no room lost. A small one that holds pointers takes an
	// 8-byte header besides: 20 kB would round up to a 21.25 kB class.
	chunkShift = 9
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1
	minChunk   = 8 // the first chunk's initial length
	minSlots   = 8 // the index's initial length
)

// hashSeed keys hashKey, so that the index's layout cannot be predicted.
var hashSeed = [4]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64()}

// hashKey returns the hash of k that places it in the index. Keys are
// usually hashes already, but any 64 hex digits are valid, so it mixes all
// of k's bits (two 64×64→128-bit multiplications folded, as wyhash does).
func hashKey(k *id) uint32 {
	a := binary.LittleEndian.Uint64(k[0:]) ^ hashSeed[0]
	b := binary.LittleEndian.Uint64(k[8:]) ^ hashSeed[1]
	c := binary.LittleEndian.Uint64(k[16:]) ^ hashSeed[2]
	d := binary.LittleEndian.Uint64(k[24:]) ^ hashSeed[3]
	h1, l1 := bits.Mul64(a, b)
	h2, l2 := bits.Mul64(c, d)
	h, l := bits.Mul64(h1^l1^hashSeed[2], h2^l2^hashSeed[1])
	return uint32(h ^ l ^ (h^l)>>32)
}

// at returns the record at position p, which must be below t.n.
func (t *table) at(p int) *rec { return &t.recs[p>>chunkShift][p&chunkMask] }

// find returns the index slot and the slab position of the record under
// k, whose hash is h, or (-1, -1) if t holds none.
func (t *table) find(k *id, h uint32) (slot, p int) {
	if t.n == 0 {
		return -1, -1
	}
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return -1, -1
		}
		if uint32(s>>32) == h {
			if p := int(uint32(s)) - 1; t.at(p).key == *k {
				return int(i), p
			}
		}
	}
}

// add stores e under k, whose hash is h; t must hold no record under k.
func (t *table) add(k *id, h uint32, e entry) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.rehash(max(minSlots, 2*len(t.slots)))
	}
	p := t.n
	if p == t.capacity() {
		t.grow()
	}
	*t.at(p) = rec{key: *k, entry: e}
	t.n++
	t.place(uint64(h)<<32 | uint64(p+1))
}

// place puts slot value s in the first empty slot of its probe sequence.
func (t *table) place(s uint64) {
	mask := uint32(len(t.slots) - 1)
	i := uint32(s>>32) & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

// capacity returns how many records the slab's chunks hold.
func (t *table) capacity() int {
	if len(t.recs) == 1 {
		return len(t.recs[0])
	}
	return len(t.recs) * chunkSize
}

// grow adds room for one more record to the full slab: it doubles a lone
// first chunk shorter than chunkSize, or else adds a chunk.
func (t *table) grow() {
	switch {
	case len(t.recs) == 0:
		t.recs = append(t.recs, make([]rec, minChunk))
	case len(t.recs) == 1 && len(t.recs[0]) < chunkSize:
		c := make([]rec, 2*len(t.recs[0]))
		copy(c, t.recs[0])
		t.recs[0] = c
	default:
		t.recs = append(t.recs, make([]rec, chunkSize))
	}
}

// remove deletes the record at slab position p, whose index slot is slot
// (as find returned them). It moves the slab's last record to p.
func (t *table) remove(slot, p int) {
	mask := len(t.slots) - 1
	// Shift back each following slot of the probe run that may move into
	// the hole: one whose home (its hash's slot) is not after the hole.
	i := slot
	for j := (i + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		home := int(uint32(t.slots[j]>>32)) & mask
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = 0
	last := t.n - 1
	if p != last {
		r := t.at(last)
		h := hashKey(&r.key)
		old := uint64(h)<<32 | uint64(last+1)
		for j := int(h) & mask; ; j = (j + 1) & mask {
			if t.slots[j] == old {
				t.slots[j] = uint64(h)<<32 | uint64(p+1)
				break
			}
		}
		*t.at(p) = *r
	}
	*t.at(last) = rec{} // let go of its data and filing
	t.n--
	if c := len(t.recs); c >= 2 && t.n <= (c-2)*chunkSize {
		t.recs[c-1] = nil // a second empty chunk
		t.recs = t.recs[:c-1]
	}
}

// rehash rebuilds the index with size slots, a power of two.
func (t *table) rehash(size int) {
	old := t.slots
	t.slots = make([]uint64, size)
	for _, s := range old {
		if s != 0 {
			t.place(s)
		}
	}
}

// slotsFor returns the index length for n records: the smallest power of
// two, at least minSlots, at most 3/4 full with them.
func slotsFor(n int) int {
	size := minSlots
	for n*4 > size*3 {
		size *= 2
	}
	return size
}

// shrink gives back the room a table no longer needs: it rebuilds an
// index more than shrinkBelow times as long as n records need and a slab
// whose single chunk is more than shrinkBelow times as long as n, drops
// the spare chunk, and lets go of everything when the table is empty. It
// copies the remaining records (at most 1/shrinkBelow of the room it gives
// back) and returns whether it rebuilt anything.
func (t *table) shrink() bool {
	if t.n == 0 {
		rebuilt := t.recs != nil || t.slots != nil
		t.recs, t.slots = nil, nil
		return rebuilt
	}
	rebuilt := false
	if need := (t.n + chunkMask) >> chunkShift; len(t.recs) > need {
		t.recs = append(make([][]rec, 0, need), t.recs[:need]...) // and a short directory
		rebuilt = true
	}
	if len(t.recs) == 1 && t.n*shrinkBelow < len(t.recs[0]) {
		c := make([]rec, max(minChunk, 1<<bits.Len(uint(t.n-1))))
		copy(c, t.recs[0][:t.n])
		t.recs[0] = c
		rebuilt = true
	}
	if want := slotsFor(t.n); len(t.slots) > shrinkBelow*want {
		t.rehash(want)
		rebuilt = true
	}
	return rebuilt
}

// appendKeys appends to dst the keys of t's records for which keep
// returns true.
func (t *table) appendKeys(dst []id, keep func(*entry) bool) []id {
	for c, chunk := range t.recs {
		n := t.n - c<<chunkShift
		if n <= 0 {
			break
		}
		for j := range chunk[:min(n, len(chunk))] {
			if r := &chunk[j]; keep(&r.entry) {
				dst = append(dst, r.key)
			}
		}
	}
	return dst
}
