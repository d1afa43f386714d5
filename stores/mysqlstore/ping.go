package mysqlstore

import (
	"context"

	"github.com/sessionkit/sessionkit/core"
)

// Ping implements core.Pinger: a ping of the database pool.
func (s *Store) Ping(ctx context.Context) error { return s.s.Ping(ctx) }

var _ core.Pinger = (*Store)(nil)
