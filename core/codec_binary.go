package core

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// BinaryCodec is the default Codec: a compact binary encoding written for
// session maps. The zero value is ready to use and it is safe for concurrent
// use.
//
// These value types are encoded natively, without reflection, and decode to
// exactly the same type: nil, string, bool, int, int8, int16, int32, int64,
// uint, uint8, uint16, uint32, uint64, float32, float64, []byte, time.Time,
// []string, []int, map[string]string, and map[string]any and []any whose
// elements are themselves such values, nested at most 32 levels deep. Nil
// slices and maps stay nil. A time.Time keeps its instant to the nanosecond
// and its offset from UTC, but not the name of its location: it decodes in
// UTC, in time.Local when the offset matches the local one, and otherwise in
// a fixed zone with that offset. Compare times with time.Time.Equal.
//
// Any other value (a struct, a named type such as "type Role string", a
// pointer, another map or slice type) is encoded with encoding/gob, as an
// interface value. Its concrete type must therefore be registered with
// gob.Register, or Encode returns an error naming the type.
//
// Map keys are written in sorted order, so equal states encode to equal
// bytes (gob-encoded values aside). Decode rejects corrupt, truncated or
// foreign data with an error wrapping ErrCorrupt; it never panics, and it
// never allocates much more than the size of its input. Strings in a record
// are bytes: they need not be valid UTF-8.
type BinaryCodec struct{}

var _ Codec = BinaryCodec{}

const (
	binMagic    = 0xA7 // first byte of every record: not ASCII, not '{'
	binVersion  = 1    // second byte: the format version
	binMaxDepth = 32   // deepest nesting of map[string]any and []any values
)

// Type tags, one byte before each value.
const (
	binTagNil byte = iota
	binTagFalse
	binTagTrue
	binTagString
	binTagInt
	binTagInt8
	binTagInt16
	binTagInt32
	binTagInt64
	binTagUint
	binTagUint8
	binTagUint16
	binTagUint32
	binTagUint64
	binTagFloat32
	binTagFloat64
	binTagBytes
	binTagTime
	binTagStrings
	binTagInts
	binTagStringMap
	binTagMap
	binTagSlice
	binTagGob
)

// Time zone markers inside an encoded time.Time.
const (
	binZoneUTC    byte = 0 // decodes in time.UTC
	binZoneOffset byte = 1 // followed by the offset in seconds (varint)
)

// errBinDepth is returned by Encode for values nested too deeply, which
// includes maps or slices that contain themselves.
var errBinDepth = fmt.Errorf("nesting deeper than %d levels (a map or slice containing itself?)", binMaxDepth)

// Encode implements Codec.
func (BinaryCodec) Encode(created time.Time, values map[string]any) ([]byte, error) {
	var scratch [32]string
	keys := binSortedKeys(scratch[:0], values)
	size := binMaxHead
	for _, k := range keys {
		size += binary.MaxVarintLen32 + len(k) + binSize(values[k], 0)
	}
	b := make([]byte, 0, size)
	b = binAppendHead(b, created)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		// binAppendEntry's body, written out: a call per entry costs
		// Encode 4 % (callgrind).
		b = binAppendString(b, k)
		var err error
		if b, err = binAppendValue(b, values[k], 0); err != nil {
			return nil, binEntryErr(k, err)
		}
	}
	return b, nil
}

// binMaxHead is the most bytes a record's head takes (magic, version,
// created time and entry count) for a created time in a zone whose offset
// fits an int32, as Decode requires: a size hint, never a limit.
const binMaxHead = 2 + 2*binary.MaxVarintLen64 + 1 + binary.MaxVarintLen64

// binAppendHead appends a record's magic, version and created time; the
// entry count follows.
func binAppendHead(b []byte, created time.Time) []byte {
	return binAppendTime(append(b, binMagic, binVersion), created)
}

// binAppendEntry appends one entry: key and its value.
func binAppendEntry(b []byte, key string, v any) ([]byte, error) {
	b, err := binAppendValue(binAppendString(b, key), v, 0)
	if err != nil {
		return nil, binEntryErr(key, err)
	}
	return b, nil
}

// binEntryErr is the error of an entry whose value cannot be encoded.
func binEntryErr(key string, err error) error {
	return fmt.Errorf("sessionkit: binary codec: encode %q: %w", key, err)
}

// binSortedKeys appends the keys of m to dst and sorts them.
func binSortedKeys[V any](dst []string, m map[string]V) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}

// keyCompare is strings.Compare with the first bytes compared inline:
// the keys of one record nearly always differ there, and the runtime's
// comparison is a call whose setup a short key does not pay back.
func keyCompare(a, b string) int {
	if a == "" || b == "" || a[0] == b[0] {
		return strings.Compare(a, b)
	}
	return int(a[0]) - int(b[0])
}

// binSize estimates the encoded size of v, to size the output buffer once.
func binSize(v any, depth int) int {
	const small = 1 + binary.MaxVarintLen64
	switch x := v.(type) {
	case string:
		return small + len(x)
	case []byte:
		return small + len(x)
	case time.Time:
		return 1 + 2*binary.MaxVarintLen64 + 1 + binary.MaxVarintLen32
	case []string:
		n := small
		for _, s := range x {
			n += binary.MaxVarintLen32 + len(s)
		}
		return n
	case []int:
		return small + len(x)*binary.MaxVarintLen64
	case map[string]string:
		n := small
		for k, s := range x {
			n += 2*binary.MaxVarintLen32 + len(k) + len(s)
		}
		return n
	case map[string]any:
		if depth >= binMaxDepth {
			return small
		}
		n := small
		for k, e := range x {
			n += binary.MaxVarintLen32 + len(k) + binSize(e, depth+1)
		}
		return n
	case []any:
		if depth >= binMaxDepth {
			return small
		}
		n := small
		for _, e := range x {
			n += binSize(e, depth+1)
		}
		return n
	default:
		return small
	}
}

// binAppendValue appends the tag and encoding of v. depth is the nesting
// level of the container holding v; the session map itself is level 0.
func binAppendValue(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, binTagNil), nil
	case string:
		return binAppendString(append(b, binTagString), x), nil
	case bool:
		if x {
			return append(b, binTagTrue), nil
		}
		return append(b, binTagFalse), nil
	case int:
		return binary.AppendVarint(append(b, binTagInt), int64(x)), nil
	case int8:
		return binary.AppendVarint(append(b, binTagInt8), int64(x)), nil
	case int16:
		return binary.AppendVarint(append(b, binTagInt16), int64(x)), nil
	case int32:
		return binary.AppendVarint(append(b, binTagInt32), int64(x)), nil
	case int64:
		return binary.AppendVarint(append(b, binTagInt64), x), nil
	case uint:
		return binary.AppendUvarint(append(b, binTagUint), uint64(x)), nil
	case uint8:
		return binary.AppendUvarint(append(b, binTagUint8), uint64(x)), nil
	case uint16:
		return binary.AppendUvarint(append(b, binTagUint16), uint64(x)), nil
	case uint32:
		return binary.AppendUvarint(append(b, binTagUint32), uint64(x)), nil
	case uint64:
		return binary.AppendUvarint(append(b, binTagUint64), x), nil
	case float32:
		return binary.LittleEndian.AppendUint32(append(b, binTagFloat32), math.Float32bits(x)), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, binTagFloat64), math.Float64bits(x)), nil
	case []byte:
		b = binAppendCount(append(b, binTagBytes), len(x), x == nil)
		return append(b, x...), nil
	case time.Time:
		return binAppendTime(append(b, binTagTime), x), nil
	case []string:
		b = binAppendCount(append(b, binTagStrings), len(x), x == nil)
		for _, s := range x {
			b = binAppendString(b, s)
		}
		return b, nil
	case []int:
		b = binAppendCount(append(b, binTagInts), len(x), x == nil)
		for _, n := range x {
			b = binary.AppendVarint(b, int64(n))
		}
		return b, nil
	case map[string]string:
		return binAppendStringMap(b, x), nil
	case map[string]any:
		if depth >= binMaxDepth {
			return b, errBinDepth
		}
		return binAppendMap(b, x, depth+1)
	case []any:
		if depth >= binMaxDepth {
			return b, errBinDepth
		}
		return binAppendSlice(b, x, depth+1)
	default:
		return binAppendGob(b, v)
	}
}

// binAppendCount appends the length of a slice or map: n+1, or 0 for nil.
func binAppendCount(b []byte, n int, isNil bool) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

func binAppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// binAppendTime appends seconds since the Unix epoch, nanoseconds and zone.
func binAppendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	if t.Location() == time.UTC {
		return append(b, binZoneUTC)
	}
	_, offset := t.Zone()
	return binary.AppendVarint(append(b, binZoneOffset), int64(offset))
}

func binAppendStringMap(b []byte, m map[string]string) []byte {
	b = binAppendCount(append(b, binTagStringMap), len(m), m == nil)
	keys := binSortedKeys(make([]string, 0, len(m)), m)
	for _, k := range keys {
		b = binAppendString(b, k)
		b = binAppendString(b, m[k])
	}
	return b
}

func binAppendMap(b []byte, m map[string]any, depth int) ([]byte, error) {
	b = binAppendCount(append(b, binTagMap), len(m), m == nil)
	keys := binSortedKeys(make([]string, 0, len(m)), m)
	for _, k := range keys {
		b = binAppendString(b, k)
		var err error
		if b, err = binAppendValue(b, m[k], depth); err != nil {
			return b, err
		}
	}
	return b, nil
}

func binAppendSlice(b []byte, s []any, depth int) ([]byte, error) {
	b = binAppendCount(append(b, binTagSlice), len(s), s == nil)
	for _, e := range s {
		var err error
		if b, err = binAppendValue(b, e, depth); err != nil {
			return b, err
		}
	}
	return b, nil
}

// Decode implements Codec.
func (BinaryCodec) Decode(data []byte) (created time.Time, values map[string]any, err error) {
	return decodeBinary(data, false)
}

// decodeBinary is Decode. With owned set, data is a buffer that nobody
// modifies any more (a record the core loaded, see Record.Data, or one it
// wrote, which stores do not modify, see Store): keys and strings are
// then substrings of data itself, not of a copy of it.
func decodeBinary(data []byte, owned bool) (created time.Time, values map[string]any, err error) {
	r, created, n, err := binOpen(data, owned)
	if err != nil {
		return time.Time{}, nil, err
	}
	values = make(map[string]any, n)
	if err = r.entries(values, n, 0); err != nil {
		return time.Time{}, nil, err
	}
	if r.off != len(data) {
		return time.Time{}, nil, errBinTrailing
	}
	return created, values, nil
}

// binOpen reads a record's header: it returns a reader at the first of
// its n entries and the record's creation time.
func binOpen(data []byte, owned bool) (r binReader, created time.Time, n int, err error) {
	if len(data) < 2 || data[0] != binMagic {
		return r, created, 0, errBinForeign
	}
	if data[1] != binVersion {
		return r, created, 0, errBinVersion
	}
	r = binReader{b: data, off: 2}
	if created, err = r.time(); err != nil {
		return r, created, 0, err
	}
	if n, err = r.uvarintCount(2); err != nil {
		return r, created, 0, err
	}
	r.strsHint = min(n, 64) // a session's values are mostly strings
	// One copy of the whole input: keys and strings are substrings of it,
	// so they cost no allocation each and never alias data. An owned
	// input needs no copy.
	if owned {
		r.s = unsafe.String(unsafe.SliceData(data), len(data))
	} else {
		r.s = string(data)
	}
	return r, created, n, nil
}

// binLazy is a loaded record whose values are decoded one at a time, when
// asked for, instead of all at once into a map (see Session.decodeRaw):
// a request that reads one value of a session pays for that value only.
// Its data is owned (see decodeBinary), and openBinaryLazy has checked
// all of it as decodeBinary would, or merge wrote it (binNone, or the
// record a session wrote and keeps).
type binLazy struct {
	data  []byte // nil: no record kept encoded
	n     uint32 // number of entries
	first uint8  // offset of the first entry
	gets  uint8  // values Session.get has read from it
	// [at, end) is the entry get found last (its key and value), or
	// empty: a request that changes the value it read has it written
	// without a walk to it (see binLazy.mergeOne).
	at, end uint32
}

// binNone is a record of no entries, kept encoded: what a new session's
// first write merges its changes into (see Session.encodableNew). Only
// read, never written.
var binNone = binLazy{data: []byte{}}

// pending reports whether l holds a record kept encoded; l may be nil.
func (l *binLazy) pending() bool { return l != nil && l.data != nil }

// openBinaryLazy checks an owned record as decodeBinary would, building
// none of its values, and returns it as a binLazy. ok is false for a
// record with a gob-encoded value, which only decoding it can check: the
// caller decodes such a record with decodeBinary.
func openBinaryLazy(data []byte) (created time.Time, l binLazy, ok bool, err error) {
	r, created, n, err := binOpen(data, true)
	if err != nil {
		return time.Time{}, l, false, err
	}
	first := r.off
	r.skip = true
	if err = r.entries(nil, n, 0); err != nil {
		return time.Time{}, l, false, err
	}
	if r.off != len(data) {
		return time.Time{}, l, false, errBinTrailing
	}
	if r.gob || first > math.MaxUint8 || uint64(n) > math.MaxUint32 {
		return created, l, false, nil // first and n are far below these in any real record
	}
	return created, binLazy{data: data, n: uint32(n), first: uint8(first)}, true, nil
}

// get returns the value under key, as decodeBinary would have decoded
// it, and whether it is there. whole reports a value get leaves to a full
// decode: a slice, a map or a []byte (mutable, so every read of the
// session must get the same one), found under key.
func (l *binLazy) get(key string) (v any, found, whole bool) {
	r := l.reader()
	var at int
	for i := uint32(0); ; i++ {
		if i == l.n {
			return nil, false, false
		}
		at = r.off
		k, err := r.str()
		if err != nil {
			return nil, false, true // openBinaryLazy checked data: a bug
		}
		if k == key {
			break
		}
		if keyCompare(k, key) > 0 {
			return nil, false, false // keys are in increasing order
		}
		if err := r.pass(); err != nil {
			return nil, false, true
		}
	}
	if r.off >= len(l.data) {
		return nil, false, true
	}
	switch tag := l.data[r.off]; tag {
	case binTagString:
		r.off++
		s, err := r.str()
		if err == nil {
			l.remember(at, r.off)
		}
		return s, err == nil, err != nil
	case binTagBytes, binTagStrings, binTagInts, binTagStringMap, binTagMap, binTagSlice, binTagGob:
		return nil, false, true
	}
	r.skip = false
	v, err := r.value(0)
	if err == nil {
		l.remember(at, r.off)
	}
	return v, err == nil, err != nil
}

// remember records [at, end) as the entry get found last (see
// binLazy.at), unless the record is too large for its offsets.
func (l *binLazy) remember(at, end int) {
	if uint64(end) <= math.MaxUint32 {
		l.at, l.end = uint32(at), uint32(end)
	}
}

// Reasons for ErrCorrupt. They are prebuilt so that rejecting hostile input
// costs no allocation, and they never quote the input.
var (
	errBinForeign   = binCorrupt("not a binary session record")
	errBinVersion   = binCorrupt("unknown format version")
	errBinTruncated = binCorrupt("truncated record")
	errBinVarint    = binCorrupt("malformed varint")
	errBinCount     = binCorrupt("length larger than the remaining input")
	errBinTrailing  = binCorrupt("trailing bytes after the record")
	errBinTag       = binCorrupt("unknown type tag")
	errBinRange     = binCorrupt("number out of range for its type")
	errBinOrder     = binCorrupt("map keys not in strictly increasing order")
	errBinTime      = binCorrupt("invalid time")
	errBinNesting   = binCorrupt(fmt.Sprintf("nesting deeper than %d levels", binMaxDepth))
)

func binCorrupt(reason string) error {
	return fmt.Errorf("%w: binary codec: %s", ErrCorrupt, reason)
}

// binReader decodes one record. b is the input, read only during Decode;
// s is a single string copy of it from which strings are sliced.
type binReader struct {
	b   []byte
	s   string
	off int

	// strs holds the string headers of the string values decoded so
	// far (see boxString); strsHint is the capacity of its next slab.
	strs     []string
	strsHint int

	// skip makes value check what it reads as it would when decoding,
	// but build and allocate nothing: it returns nil (openBinaryLazy,
	// binLazy.get). gob is set when it passed over a gob-encoded value,
	// whose contents only decoding can check.
	skip, gob bool
}

// boxString returns s as an any without an allocation of its own.
// Converting a string to an interface allocates its 16-byte header for
// each value; here the headers live in slabs, one allocation for several
// values: the first as large as the record's top-level count (at most
// 64), each next one twice the last (at most 256). A slab is never grown
// in place, so the headers already handed out stay where they are, and
// nothing writes to them again.
func (r *binReader) boxString(s string) any {
	if len(r.strs) == cap(r.strs) {
		n := min(max(r.strsHint, 4), 256)
		r.strs = make([]string, 0, n)
		r.strsHint = 2 * n
	}
	r.strs = append(r.strs, s)
	return stringAny(&r.strs[len(r.strs)-1])
}

// eface is the layout of a value of an interface type without methods
// (any): its type and a pointer to its value. A string is not
// pointer-shaped, so an any holding one points to a string header.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// stringType is the type word of an any holding a string.
var stringType = func() unsafe.Pointer {
	var v any = ""
	return (*eface)(unsafe.Pointer(&v)).typ
}()

// stringAny returns the any holding the string *p, pointing to *p itself
// instead of to a copy; *p must never change afterwards.
func stringAny(p *string) (v any) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = stringType, unsafe.Pointer(p)
	return v
}

func (r *binReader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errBinTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *binReader) uvarint() (uint64, error) {
	if r.off < len(r.b) && r.b[r.off] < 0x80 {
		// One byte: every key length and most small numbers.
		v := r.b[r.off]
		r.off++
		return uint64(v), nil
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			return 0, errBinTruncated
		}
		return 0, errBinVarint
	}
	r.off += n
	return v, nil
}

func (r *binReader) varint() (int64, error) {
	if r.off < len(r.b) && r.b[r.off] < 0x80 {
		u := r.b[r.off] // one byte, zigzag-encoded, as binary.Varint reads it
		r.off++
		v := int64(u >> 1)
		if u&1 != 0 {
			v = ^v
		}
		return v, nil
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			return 0, errBinTruncated
		}
		return 0, errBinVarint
	}
	r.off += n
	return v, nil
}

// fixed returns the next n bytes of the input.
func (r *binReader) fixed(n int) ([]byte, error) {
	if len(r.b)-r.off < n {
		return nil, errBinTruncated
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

// length reads a byte length and checks that the input holds that many.
func (r *binReader) length() (int, error) {
	l, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if l > uint64(len(r.b)-r.off) {
		return 0, errBinCount
	}
	return int(l), nil
}

// uvarintCount reads an element count and checks it against the remaining
// input, given that every element takes at least minSize bytes. It bounds
// what a hostile count can make Decode allocate.
func (r *binReader) uvarintCount(minSize int) (int, error) {
	n, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64((len(r.b)-r.off)/minSize) {
		return 0, errBinCount
	}
	return int(n), nil
}

// count reads a container length written by binAppendCount.
func (r *binReader) count(minSize int) (n int, isNil bool, err error) {
	u, err := r.uvarint()
	if err != nil {
		return 0, false, err
	}
	if u == 0 {
		return 0, true, nil
	}
	if u-1 > uint64((len(r.b)-r.off)/minSize) {
		return 0, false, errBinCount
	}
	return int(u - 1), false, nil
}

// str reads a string: its length, then its bytes. A length of one byte
// (under 128: every key) is read here, in a body small enough to inline;
// strLong reads any other.
func (r *binReader) str() (string, error) {
	if i := r.off; i < len(r.b) {
		if l := int(r.b[i]); l < 0x80 && l < len(r.b)-i {
			r.off = i + 1 + l
			return r.s[i+1 : r.off], nil
		}
	}
	return r.strLong()
}

func (r *binReader) strLong() (string, error) {
	l, err := r.length()
	if err != nil {
		return "", err
	}
	s := r.s[r.off : r.off+l]
	r.off += l
	return s, nil
}

// time reads what binAppendTime wrote.
func (r *binReader) time() (time.Time, error) {
	sec, err := r.varint()
	if err != nil {
		return time.Time{}, err
	}
	nsec, err := r.uvarint()
	if err != nil {
		return time.Time{}, err
	}
	// Any int64 of seconds is accepted: time.Time keeps it exactly (its
	// arithmetic wraps consistently), and Encode may write any of them.
	if nsec >= 1e9 {
		return time.Time{}, errBinTime
	}
	zone, err := r.byte()
	if err != nil {
		return time.Time{}, err
	}
	switch zone {
	case binZoneUTC:
		if r.skip {
			return time.Time{}, nil
		}
		return time.Unix(sec, int64(nsec)).UTC(), nil
	case binZoneOffset:
		offset, err := r.varint()
		if err != nil {
			return time.Time{}, err
		}
		if offset < math.MinInt32 || offset > math.MaxInt32 {
			return time.Time{}, errBinTime
		}
		if r.skip {
			return time.Time{}, nil
		}
		return binInZone(time.Unix(sec, int64(nsec)), int(offset)), nil
	default:
		return time.Time{}, errBinTime
	}
}

// entries decodes n key/value pairs into m, checking key order.
func (r *binReader) entries(m map[string]any, n, depth int) error {
	prev := ""
	for i := 0; i < n; i++ {
		k, err := r.str()
		if err != nil {
			return err
		}
		if i > 0 && keyCompare(k, prev) <= 0 {
			return errBinOrder
		}
		prev = k
		v, err := r.value(depth)
		if err != nil {
			return err
		}
		if !r.skip {
			m[k] = v
		}
	}
	return nil
}

// pass moves r past one value of a record kept as a binLazy (checked by
// openBinaryLazy, or written by merge), as value does in skip mode but
// reading only its extent: a number's varint is not decoded, nor its
// range checked, again. The tags of containers and gob values take
// value's path. On data it was not meant for it returns an error or a
// wrong extent, never panics.
func (r *binReader) pass() error {
	if r.off >= len(r.b) {
		return errBinTruncated
	}
	switch tag := r.b[r.off]; tag {
	case binTagNil, binTagFalse, binTagTrue:
		r.off++
	case binTagString:
		r.off++
		_, err := r.str()
		return err
	case binTagInt, binTagInt8, binTagInt16, binTagInt32, binTagInt64,
		binTagUint, binTagUint8, binTagUint16, binTagUint32, binTagUint64:
		r.off++
		r.passVarint()
	case binTagFloat32:
		r.off += 1 + 4
	case binTagFloat64:
		r.off += 1 + 8
	case binTagTime:
		r.off++
		r.passVarint() // seconds
		r.passVarint() // nanoseconds
		if r.off < len(r.b) && r.b[r.off] == binZoneOffset {
			r.off++
			r.passVarint()
		} else {
			r.off++
		}
	default:
		_, err := r.value(0)
		return err
	}
	if r.off > len(r.b) {
		return errBinTruncated
	}
	return nil
}

// passVarint moves r past one varint (its bytes up to the first below
// 0x80), or to the end of the input.
func (r *binReader) passVarint() {
	for r.off < len(r.b) && r.b[r.off] >= 0x80 {
		r.off++
	}
	r.off++
}

// value decodes one tagged value found in a container at the given depth.
func (r *binReader) value(depth int) (any, error) {
	tag, err := r.byte()
	if err != nil {
		return nil, err
	}
	switch tag {
	case binTagNil:
		return nil, nil
	case binTagFalse:
		return false, nil
	case binTagTrue:
		return true, nil
	case binTagString:
		s, err := r.str()
		if err != nil || r.skip {
			return nil, err
		}
		return r.boxString(s), nil
	case binTagInt, binTagInt8, binTagInt16, binTagInt32, binTagInt64:
		return r.signed(tag)
	case binTagUint, binTagUint8, binTagUint16, binTagUint32, binTagUint64:
		return r.unsigned(tag)
	case binTagFloat32:
		p, err := r.fixed(4)
		if err != nil || r.skip {
			return nil, err
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(p)), nil
	case binTagFloat64:
		p, err := r.fixed(8)
		if err != nil || r.skip {
			return nil, err
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(p)), nil
	case binTagTime:
		t, err := r.time()
		if err != nil || r.skip {
			return nil, err
		}
		return t, nil
	case binTagBytes:
		return r.bytes()
	case binTagStrings:
		return r.strings()
	case binTagInts:
		return r.ints()
	case binTagStringMap:
		return r.stringMap()
	case binTagMap, binTagSlice:
		if depth >= binMaxDepth {
			return nil, errBinNesting
		}
		if tag == binTagMap {
			return r.anyMap(depth + 1)
		}
		return r.anySlice(depth + 1)
	case binTagGob:
		l, err := r.length()
		if err != nil {
			return nil, err
		}
		p := r.b[r.off : r.off+l]
		r.off += l
		if r.skip {
			r.gob = true
			return nil, nil
		}
		return binDecodeGob(p)
	default:
		return nil, errBinTag
	}
}

func (r *binReader) signed(tag byte) (any, error) {
	v, err := r.varint()
	if err != nil {
		return nil, err
	}
	switch tag {
	case binTagInt:
		return binNumber[int](r, v)
	case binTagInt8:
		return binNumber[int8](r, v)
	case binTagInt16:
		return binNumber[int16](r, v)
	case binTagInt32:
		return binNumber[int32](r, v)
	default:
		return binNumber[int64](r, v)
	}
}

func (r *binReader) unsigned(tag byte) (any, error) {
	v, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	switch tag {
	case binTagUint:
		return binNumber[uint](r, v)
	case binTagUint8:
		return binNumber[uint8](r, v)
	case binTagUint16:
		return binNumber[uint16](r, v)
	case binTagUint32:
		return binNumber[uint32](r, v)
	default:
		return binNumber[uint64](r, v)
	}
}

// binNumber returns v as a T, or errBinRange when T cannot hold it; in
// skip mode it checks the range and returns nil (converting a number to
// an interface can allocate).
func binNumber[T int | int8 | int16 | int32 | int64 | uint | uint8 | uint16 | uint32 | uint64, V int64 | uint64](r *binReader, v V) (any, error) {
	n := T(v)
	if V(n) != v {
		return nil, errBinRange
	}
	if r.skip {
		return nil, nil
	}
	return n, nil
}

func (r *binReader) bytes() (any, error) {
	n, isNil, err := r.count(1)
	if err != nil || isNil {
		return []byte(nil), err
	}
	if r.skip {
		r.off += n
		return nil, nil
	}
	p := make([]byte, n)
	copy(p, r.b[r.off:r.off+n])
	r.off += n
	return p, nil
}

func (r *binReader) strings() (any, error) {
	n, isNil, err := r.count(1)
	if err != nil || isNil {
		return []string(nil), err
	}
	var ss []string
	if !r.skip {
		ss = make([]string, n)
	}
	for i := range n {
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		if ss != nil {
			ss[i] = s
		}
	}
	if r.skip {
		return nil, nil
	}
	return ss, nil
}

func (r *binReader) ints() (any, error) {
	n, isNil, err := r.count(1)
	if err != nil || isNil {
		return []int(nil), err
	}
	var is []int
	if !r.skip {
		is = make([]int, n)
	}
	for i := range n {
		v, err := r.varint()
		if err != nil {
			return nil, err
		}
		if int64(int(v)) != v {
			return nil, errBinRange
		}
		if is != nil {
			is[i] = int(v)
		}
	}
	if r.skip {
		return nil, nil
	}
	return is, nil
}

func (r *binReader) stringMap() (any, error) {
	n, isNil, err := r.count(2)
	if err != nil || isNil {
		return map[string]string(nil), err
	}
	var m map[string]string
	if !r.skip {
		m = make(map[string]string, n)
	}
	prev := ""
	for i := 0; i < n; i++ {
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		if i > 0 && keyCompare(k, prev) <= 0 {
			return nil, errBinOrder
		}
		prev = k
		v, err := r.str()
		if err != nil {
			return nil, err
		}
		if m != nil {
			m[k] = v
		}
	}
	if r.skip {
		return nil, nil
	}
	return m, nil
}

func (r *binReader) anyMap(depth int) (any, error) {
	n, isNil, err := r.count(2)
	if err != nil || isNil {
		return map[string]any(nil), err
	}
	var m map[string]any
	if !r.skip {
		m = make(map[string]any, n)
	}
	if err := r.entries(m, n, depth); err != nil || r.skip {
		return nil, err
	}
	return m, nil
}

func (r *binReader) anySlice(depth int) (any, error) {
	n, isNil, err := r.count(1)
	if err != nil || isNil {
		return []any(nil), err
	}
	var s []any
	if !r.skip {
		s = make([]any, n)
	}
	for i := range n {
		v, err := r.value(depth)
		if err != nil {
			return nil, err
		}
		if s != nil {
			s[i] = v
		}
	}
	if r.skip {
		return nil, nil
	}
	return s, nil
}

// binZones caches the fixed zones of offsets in whole quarter hours within
// ±18 hours (every real-world offset), so decoding a time in such a zone
// allocates no *time.Location. Index: offset/900 + 72.
var binZones [145]atomic.Pointer[time.Location]

// binInZone returns t (in time.Local, as time.Unix returns it) in a zone with
// the given offset from UTC: time.Local itself when its offset at that
// instant matches, as encoding/gob does.
func binInZone(t time.Time, offset int) time.Time {
	if _, local := t.Zone(); local == offset {
		return t
	}
	const limit = 18 * 3600
	if offset%900 != 0 || offset < -limit || offset > limit {
		return t.In(time.FixedZone("", offset))
	}
	slot := &binZones[offset/900+72]
	loc := slot.Load()
	if loc == nil {
		loc = time.FixedZone("", offset)
		slot.Store(loc)
	}
	return t.In(loc)
}
