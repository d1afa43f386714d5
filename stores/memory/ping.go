package memory

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit/core"
)

// Ping implements core.Pinger: an in-process store always answers, so it
// only reports a context that has ended.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: memory: ping: %w", err)
	}
	return nil
}

var _ core.Pinger = (*Store)(nil)
