package memory

import (
	"context"
	"time"
)

// sweep removes expired records every interval until Close is called.
func (s *Store) sweep(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// A background context never fails, so neither does this.
			_, _ = s.DeleteExpired(context.Background())
		}
	}
}

// Close stops the background sweeper and waits for it to return. It is
// idempotent and safe to call concurrently; it always returns nil. The store
// stays usable after Close, only without sweeping.
func (s *Store) Close() error {
	if s.stop == nil {
		return nil
	}
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}
