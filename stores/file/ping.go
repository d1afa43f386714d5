package file

import (
	"context"
	"fmt"
	"os"

	"github.com/sessionkit/sessionkit/core"
)

// Ping implements core.Pinger: it checks that the store's directory is
// still there (a stat), and reports a context that has ended.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: file: ping: %w", err)
	}
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("sessionkit: file: ping: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sessionkit: file: ping: %s is not a directory", s.dir)
	}
	return nil
}

var _ core.Pinger = (*Store)(nil)
