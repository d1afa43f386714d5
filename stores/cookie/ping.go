package cookie

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit/core"
)

// Ping implements core.Pinger, for Manager.Check: with a revocation list
// it checks that the list's store answers (core.PingStore); without one
// the store needs no server and Ping only reports a context that ended.
func (s *ClientStore) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: cookie: ping: %w", err)
	}
	if s.revoked == nil {
		return nil
	}
	if err := core.PingStore(ctx, s.revoked); err != nil {
		return fmt.Errorf("sessionkit: cookie: revocation list: %w", err)
	}
	return nil
}

var _ core.Pinger = (*ClientStore)(nil)
