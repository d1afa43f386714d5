package redisstore_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestPausedServer freezes a throw-away redis-server (SIGSTOP) before a
// request and in the middle of one: the request must get the error
// handler's answer, bounded by the core's store-call deadline (testserver.PausedStoreTimeout), not hang. The client's
// read timeout is far longer than the deadline, so it is the context that
// bounds the store's calls here (with ContextTimeoutEnabled, as the package
// recommends).
func TestPausedServer(t *testing.T) {
	srv := testserver.StartRedis(t)
	client := goredis.NewClient(&goredis.Options{
		Addr:                  srv.Addr,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Minute,
		WriteTimeout:          time.Minute,
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
	})
	t.Cleanup(func() { client.Close() })
	s := newStore(t, client)
	testserver.CheckPausedRequest(t, s, srv.Pause, srv.Resume)
	testserver.CheckPausedPing(t, s, srv.Pause, srv.Resume)
}
