package memcachestore

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit/core"
)

// Ping implements core.Pinger with memcached's version command, sent to
// every server of the client, in one round trip each.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.do(ctx, boundAny, s.client.Ping); err != nil {
		return fmt.Errorf("sessionkit: memcache: ping: %w", err)
	}
	return nil
}

var _ core.Pinger = (*Store)(nil)
