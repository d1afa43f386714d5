package core

import (
	"encoding/binary"
	"math"
	"slices"
	"time"
	"unsafe"
)

// Writing a record kept encoded (see Session.decodeRaw) without decoding
// it. A request that changes a few values of a stored session needs
// neither the map of all its values nor their encoding again: the new
// record is the old one with the changed entries replaced, inserted or
// left out, and every other entry copied as it is (entries are in
// increasing key order, so one pass over both does it). Only a plain
// record (binPlainEntries) is written so: the metadata that a write reads
// or rewrites (stamp, swap) lives in the values map.

// reader returns a reader, in skip mode, at l's first entry.
func (l *binLazy) reader() binReader {
	return binReader{b: l.data, s: unsafe.String(unsafe.SliceData(l.data), len(l.data)), off: int(l.first), skip: true}
}

// plain reports whether l is a plain record (see binPlainEntries).
func (l *binLazy) plain() bool { return binPlainEntries(l.reader(), int(l.n)) }

// binPlain reports whether data, a record not checked yet, is a plain
// record (see binPlainEntries). A record it cannot read is not.
func binPlain(data []byte) bool {
	r, _, n, err := binOpen(data, true)
	if err != nil {
		return false
	}
	r.skip = true
	return binPlainEntries(r, n)
}

// binPlainEntries reports whether the n entries r is at hold none of the
// metadata that a write must read or may rewrite (see stamp): the user
// the session is filed under, the time of its last write while filed, and
// its public id. Metadata keys begin with a NUL byte, so they come first,
// after the empty key alone: only those entries are read. Entries r
// cannot read are not plain.
func binPlainEntries(r binReader, n int) bool {
	for range n {
		k, err := r.str()
		if err != nil {
			return false
		}
		if k != "" && !ReservedKey(k) {
			return true // past the metadata
		}
		if k == userKey || k == writtenKey || k == idKey {
			return false
		}
		if _, err := r.value(0); err != nil {
			return false
		}
	}
	return true
}

// merge returns the record of l's values with changes applied (a value,
// or deleted) and the client address ip stored under ipKey (none when ip
// is ""), created at created, kept encoded: the bytes BinaryCodec.Encode
// makes of those values, built without decoding l. The entries of l that
// no change names are copied as they are. changes must hold no reserved
// key, and each key once. The result's data is a new slice.
func (l *binLazy) merge(created time.Time, changes []change, ip string) (binLazy, error) {
	if len(changes) == 1 {
		if m, ok, err := l.mergeOne(created, changes[0], ip); ok || err != nil {
			return m, err
		}
	}
	var scratch [8]change
	var ipChange any = ip // ipKey is replaced, or dropped
	if ip == "" {
		ipChange = deleted
	}
	keys := append(append(scratch[:0], change{ipKey, ipChange}), changes...)
	slices.SortFunc(keys, func(a, b change) int { return keyCompare(a.key, b.key) })
	size := l.sizeAfterHead()
	for _, c := range keys {
		if !isDeleted(c.v) {
			size += binary.MaxVarintLen32 + len(c.key) + binSize(c.v, 0)
		}
	}
	b := binAppendHead(make([]byte, 0, size), created)
	countAt := len(b)
	b = b[:countAt+binary.MaxVarintLen64] // room for the count, known at the end
	n := 0
	emit := func(c change) error {
		if isDeleted(c.v) {
			return nil
		}
		var err error
		if b, err = binAppendEntry(b, c.key, c.v); err != nil {
			return err
		}
		n++
		return nil
	}
	// Entries no change names are copied in runs, [run, r.off), one
	// append each; once every change is placed, the rest of the record is
	// one run (openBinaryLazy checked that the entries end the record).
	r, next := l.reader(), 0
	run, inRun := r.off, 0
	flush := func(end int) {
		b = append(b, l.data[run:end]...)
		n += inRun
		inRun = 0
	}
	for i := range l.n {
		if next == len(keys) {
			inRun += int(l.n - i)
			r.off = len(l.data)
			break
		}
		start := r.off
		k, err := r.str()
		if err == nil {
			err = r.pass()
		}
		if err != nil {
			return binLazy{}, err // openBinaryLazy checked l: only a bug gets here
		}
		c := keyCompare(keys[next].key, k)
		if c > 0 {
			inRun++
			continue
		}
		flush(start)
		for ; c < 0; c = keyCompare(keys[next].key, k) {
			if err := emit(keys[next]); err != nil {
				return binLazy{}, err
			}
			if next++; next == len(keys) {
				break
			}
		}
		run = r.off
		if c == 0 {
			if err := emit(keys[next]); err != nil {
				return binLazy{}, err
			}
			next++
		} else {
			run = start // k follows every change: the next run begins with it
			inRun = 1
		}
	}
	flush(r.off)
	for ; next < len(keys); next++ {
		if err := emit(keys[next]); err != nil {
			return binLazy{}, err
		}
	}
	w := binary.PutUvarint(b[countAt:], uint64(n))
	gap := binary.MaxVarintLen64 - w
	copy(b[countAt+w:], b[countAt+binary.MaxVarintLen64:])
	b = b[:len(b)-gap]
	first := countAt + w // a head is 38 bytes at most (binAppendTime's varints, the count): it fits first
	if uint64(n) > math.MaxUint32 {
		return binLazy{}, errBinCount // far beyond any record
	}
	return binLazy{data: b, n: uint32(n), first: uint8(first)}, nil
}

// mergeOne is merge of one change to the value get found last ([l.at,
// l.end)): the entries before and after it are copied as they are,
// without a walk to it. ok is false, with nothing done, when c names
// another key or the client address ip is not the one the record holds
// (merge then does it all).
func (l *binLazy) mergeOne(created time.Time, c change, ip string) (m binLazy, ok bool, err error) {
	if l.end == 0 || !l.sameIP(ip) {
		return binLazy{}, false, nil
	}
	r := l.reader()
	r.off = int(l.at)
	if k, err := r.str(); err != nil || k != c.key {
		return binLazy{}, false, nil
	}
	n, size := l.n, l.sizeAfterHead()
	if isDeleted(c.v) {
		n--
	} else {
		size += binary.MaxVarintLen32 + len(c.key) + binSize(c.v, 0)
	}
	b := binAppendHead(make([]byte, 0, size), created)
	b = binary.AppendUvarint(b, uint64(n))
	first := len(b) // as in merge, it fits first
	b = append(b, l.data[l.first:l.at]...)
	if !isDeleted(c.v) {
		if b, err = binAppendEntry(b, c.key, c.v); err != nil {
			return binLazy{}, false, err
		}
	}
	b = append(b, l.data[l.end:]...)
	return binLazy{data: b, n: n, first: uint8(first)}, true, nil
}

// sizeAfterHead is the size to reserve for a record made of l's entries
// under a new head, before changes: l's own size with room for a longer
// count (the new head has the same created time), or binMaxHead for
// binNone, which has no head to go by.
func (l *binLazy) sizeAfterHead() int {
	if len(l.data) == 0 {
		return binMaxHead
	}
	return len(l.data) + binary.MaxVarintLen64
}

// sameIP reports whether l stores ip under ipKey, or, for "", nothing.
// ipKey is metadata: it comes among the first entries, after the empty
// key alone (see binPlainEntries), so only those are read.
func (l *binLazy) sameIP(ip string) bool {
	r := l.reader()
	for range l.n {
		k, err := r.str()
		if err != nil || k != "" && !ReservedKey(k) || keyCompare(k, ipKey) > 0 {
			break
		}
		if k == ipKey {
			if r.off >= len(l.data) || l.data[r.off] != binTagString {
				return false
			}
			r.off++
			v, err := r.str()
			return err == nil && v == ip && ip != ""
		}
		if err := r.pass(); err != nil {
			return false
		}
	}
	return ip == ""
}
