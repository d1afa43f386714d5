package redisstore

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit/core"
)

// Ping implements core.Pinger with a Redis PING.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: redis: ping: %w", err)
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("sessionkit: redis: ping: %w", err)
	}
	return nil
}

var _ core.Pinger = (*Store)(nil)
