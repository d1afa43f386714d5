package core

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
)

// binAppendGob appends v with the gob tag: a byte length, then v encoded by
// encoding/gob as an interface value, so that its concrete type travels with
// it. That type must be registered with gob.Register.
func binAppendGob(b []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
		return b, fmt.Errorf("%T is not a native type and the gob fallback failed (is it registered with gob.Register?): %w", v, err)
	}
	b = append(b, binTagGob)
	b = binary.AppendUvarint(b, uint64(buf.Len()))
	return append(b, buf.Bytes()...), nil
}

// binDecodeGob decodes a value written by binAppendGob. p must hold exactly
// one gob stream with one value. The framing of the stream is checked first,
// so that a message length larger than p is rejected before encoding/gob
// reserves a buffer for it; gob bounds the other allocations itself. The
// recover is a last line of defence so that a bug in a decoder of a
// registered type cannot crash the caller.
func binDecodeGob(p []byte) (v any, err error) {
	if !binGobFramingOK(p) {
		return nil, errBinGobFraming
	}
	defer func() {
		if recover() != nil {
			v, err = nil, errBinGob
		}
	}()
	rd := bytes.NewReader(p)
	if err := gob.NewDecoder(rd).Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: binary codec: gob value: %w", ErrCorrupt, err)
	}
	if rd.Len() != 0 {
		return nil, errBinGobTrailing
	}
	return v, nil
}

// binGobFramingOK reports whether p is a sequence of gob messages, each a
// length in gob's unsigned integer format followed by that many bytes, that
// ends exactly at the end of p.
func binGobFramingOK(p []byte) bool {
	for len(p) > 0 {
		n := uint64(p[0])
		p = p[1:]
		if n >= 0x80 {
			size := 256 - int(n) // gob writes the byte count negated
			if size > 8 || size > len(p) {
				return false
			}
			n = 0
			for _, c := range p[:size] {
				n = n<<8 | uint64(c)
			}
			p = p[size:]
		}
		if n > uint64(len(p)) {
			return false
		}
		p = p[n:]
	}
	return true
}

var (
	errBinGobFraming  = binCorrupt("malformed gob stream")
	errBinGob         = binCorrupt("gob value could not be decoded")
	errBinGobTrailing = binCorrupt("trailing bytes after a gob value")
)
