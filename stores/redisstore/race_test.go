//go:build race

package redisstore_test

// raceEnabled reports whether the race detector is on: sync.Pool then
// drops pooled items at random, so reused buffers are sometimes new.
const raceEnabled = true
