package memory

import (
	"testing"
	"unsafe"
)

// TestSizes checks the sizes the footprint rests on: a record of 80 bytes,
// whose chunks fill whole pages, and a shard of two cache lines.
func TestSizes(t *testing.T) {
	if n := unsafe.Sizeof(rec{}); n != 80 || n*chunkSize%8192 != 0 {
		t.Errorf("rec is %d bytes, want 80: a chunk of %d records is %d bytes, want whole 8 kB pages", n, chunkSize, n*chunkSize)
	}
	if n := unsafe.Sizeof(shard{}); n != 128 {
		t.Errorf("shard is %d bytes, want 128", n)
	}
}
