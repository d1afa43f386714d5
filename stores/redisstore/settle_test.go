package redisstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestLoginWithLostReply: the Renew script runs on Redis while its reply
// (and go-redis's retry's) is lost on the way back; see
// testserver.CheckLoginWithLostReply. Before the core settled such a
// renew, the login failed while the renew stood, and the client's old
// cookie loaded an empty session.
func TestLoginWithLostReply(t *testing.T) {
	proxy := testserver.NewProxy(t, testserver.Redis(t))
	testserver.CheckLoginWithLostReply(t, newStore(t, newClient(t, proxy.Addr)), proxy, core.OpRenew)
}
