package core

import (
	"errors"
	"time"
)

// Codec turns the state of a session into the bytes a Store keeps, and back.
//
// Implementations must be safe for concurrent use. Decode must never panic on
// any input: corrupt, truncated or foreign data is an error wrapping
// ErrCorrupt, which the core treats as "no session" (plus a log line).
// Decode must neither modify nor retain data: the returned values may not
// alias it, and the core may hand the same bytes back to the store (see
// Renewal.OldData).
type Codec interface {
	// Encode serialises the creation time and values of a session.
	Encode(created time.Time, values map[string]any) ([]byte, error)
	// Decode reverses Encode. It returns a non-nil map.
	Decode(data []byte) (created time.Time, values map[string]any, err error)
}

// ErrCorrupt reports a record that a Codec cannot decode.
var ErrCorrupt = errors.New("sessionkit: corrupt session record")
