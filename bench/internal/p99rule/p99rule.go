// Package p99rule is the rule that judges a latency case of
// bench/cmd/latency against issue 15's target, p99 at most 1.15× the bare
// server's: bench/cmd/latency uses it to decide which cases to measure
// longer, and bench/cmd/report to write each case's verdict, so that the
// two never disagree on what a case's rounds say.
package p99rule

// Target is the greatest p99 ratio to the bare server that meets the
// target.
const Target = 1.15

// Case is what the rule reads of a case: medians of the rounds' p99
// ratios and the 95% intervals of the medians (see bench/cmd/latency).
type Case struct {
	// Ratio is the median of sessionkit's p99 ratios to bare.
	Ratio float64
	// Floor and FloorHi are the median of the floor server's p99 ratios
	// to bare and the upper bound of its interval.
	Floor, FloorHi float64
	// VsFloorLo is the lower bound of the interval of the median of
	// sessionkit's p99 over the floor's, paired by round.
	VsFloorLo float64
}

// Verdict is the outcome of a case.
type Verdict int

// The verdicts, in the order Judge tries them.
const (
	// Met: sessionkit's median ratio is at most Target.
	Met Verdict = iota
	// OverFloor: over Target, and sessionkit's p99 is over the floor's
	// beyond the run's noise (the paired interval lies above 1),
	// whatever the floor.
	OverFloor
	// Floor: over Target, and the floor's median ratio alone is over it.
	Floor
	// WithinNoise: over Target, the floor's median under it but its
	// interval reaching it: the rounds cannot tell whether a minimal
	// session middleware meets the target.
	WithinNoise
	// NotMet: over Target, and the floor's interval lies under it.
	NotMet
)

// Judge returns the verdict of c.
func Judge(c Case) Verdict {
	switch {
	case c.Ratio <= Target:
		return Met
	case c.VsFloorLo > 1:
		return OverFloor
	case c.Floor > Target:
		return Floor
	case c.FloorHi >= Target:
		return WithinNoise
	}
	return NotMet
}
