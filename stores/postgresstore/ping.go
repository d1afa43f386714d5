package postgresstore

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit/core"
)

// Ping implements core.Pinger: a ping on a pooled connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: postgres: ping: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("sessionkit: postgres: ping: %w", err)
	}
	return nil
}

var _ core.Pinger = (*Store)(nil)
