package sqlstore

import (
	"context"
	"fmt"
)

// Ping implements core.Pinger: a ping of the reading and (when it is
// another) the writing pool.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%sping: %w", s.prefix, err)
	}
	if err := s.cfg.Read.PingContext(ctx); err != nil {
		return fmt.Errorf("%sping: %w", s.prefix, err)
	}
	if s.cfg.Write != s.cfg.Read {
		if err := s.cfg.Write.PingContext(ctx); err != nil {
			return fmt.Errorf("%sping: %w", s.prefix, err)
		}
	}
	return nil
}
