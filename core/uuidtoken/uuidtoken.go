// Package uuidtoken issues session tokens that are random (version 4) UUIDs,
// for applications whose existing session tables keep UUID columns.
//
// A version 4 UUID carries 122 random bits, fewer than the 256 bits of the
// default core.RandomTokens: use it only where the UUID shape is required.
package uuidtoken

import (
	"fmt"

	"github.com/google/uuid"
)

// Generator is a core.TokenGenerator issuing lowercase, hyphenated
// version 4 UUIDs such as "f47ac10b-58cc-4372-a567-0e02b2c3d479".
type Generator struct{}

// New returns a new random UUID string.
func (Generator) New() (string, error) {
	u, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("sessionkit: uuid token: %w", err)
	}
	return u.String(), nil
}

// Valid reports whether token is a lowercase, hyphenated version 4 UUID of
// the RFC 9562 variant, the only form New issues.
func (Generator) Valid(token string) bool {
	if len(token) != 36 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	if token[14] != '4' {
		return false
	}
	switch token[19] {
	case '8', '9', 'a', 'b':
		return true
	}
	return false
}
