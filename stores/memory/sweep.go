package memory

// Close stops the background sweeper and waits for it to return. It is
// idempotent and safe to call concurrently; it always returns nil. The store
// stays usable after Close, only without sweeping.
func (s *Store) Close() error {
	s.sweeper.Stop()
	return nil
}
