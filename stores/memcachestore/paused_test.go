package memcachestore_test

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestPausedServer freezes a throw-away memcached (SIGSTOP) before a request
// and in the middle of one: the request must get the error handler's
// answer, bounded by the core's store-call deadline (testserver.PausedStoreTimeout), not hang. gomemcache takes no
// context; the client's Timeout here is far longer than the deadline, so
// this checks that the store itself returns when ctx is done.
func TestPausedServer(t *testing.T) {
	srv := testserver.StartMemcached(t)
	client := newClient(srv.Addr)
	client.Timeout = time.Minute
	s := newStore(t, client)
	testserver.CheckPausedRequest(t, s, srv.Pause, srv.Resume)
	testserver.CheckPausedPing(t, s, srv.Pause, srv.Resume)
}
