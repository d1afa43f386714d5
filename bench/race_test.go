//go:build race

package bench

// raceEnabled reports whether the race detector is on: sync.Pool then
// drops pooled items at random (the frameworks pool their contexts), so
// allocation counts are not exact.
const raceEnabled = true
