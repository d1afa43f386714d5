package core

// FlashKey is the session key under which AddFlash keeps flash messages.
const FlashKey = "_flash"

// AddFlash appends msg to the session's flash messages, which Flashes
// returns and removes on a later request.
func (s *Session) AddFlash(msg string) {
	s.lock()
	defer s.mu.Unlock()
	var list []string
	switch v, _ := s.get(FlashKey); old := v.(type) {
	case []string:
		list = append(list, old...)
	case []any: // decoded by JSONCodec
		for _, e := range old {
			if str, ok := e.(string); ok {
				list = append(list, str)
			}
		}
	}
	s.set(FlashKey, append(list, msg))
}

// Flashes returns the session's flash messages and removes them, so each is
// shown once. It returns nil, and changes nothing, when there are none.
func (s *Session) Flashes() []string {
	list, _ := PopValue[[]string](s, FlashKey)
	return list
}
