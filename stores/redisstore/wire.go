package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// wireArg is a command argument in a buffer the store reuses. go-redis
// takes it as an encoding.BinaryMarshaler, so a pointer to it goes into the
// command without an allocation; its String method is what go-redis's
// Cluster and Ring clients read to route a command by its key.
type wireArg struct{ b []byte }

// MarshalBinary returns the argument's bytes (go-redis copies them into
// the connection's buffer before the command returns).
func (a *wireArg) MarshalBinary() ([]byte, error) { return a.b, nil }

// String returns the argument as a string.
func (a *wireArg) String() string { return string(a.b) }

// call holds the reusable arguments of one command: the full Redis key, a
// script's single argument, and the command's argument list (go-redis
// keeps the slice it is given, so a fresh variadic list would cost an
// allocation per command).
type call struct {
	key, arg, num wireArg
	args          [6]any
}

// maxPooled is the largest argument buffer kept for reuse, so that one
// large session does not stay in the pool.
const maxPooled = 64 << 10

var calls = sync.Pool{New: func() any { return new(call) }}

// newCall returns a call whose key is prefix + key.
func (s *Store) newCall(key string) *call {
	c := calls.Get().(*call)
	c.key.b = append(append(c.key.b[:0], s.prefix...), key...)
	return c
}

// release returns c to the pool. Once the command has returned go-redis no
// longer reads its arguments (a hook that keeps a command beyond its call
// must copy cmd.Args() first, as go-redis's own hooks do).
func (c *call) release() {
	if cap(c.arg.b) > maxPooled {
		c.arg.b = nil
	}
	calls.Put(c)
}

// script is a Lua script that takes one key and one argument and returns
// an integer. It runs by EVALSHA, falling back to EVAL (which also loads
// it) when the server does not know it yet. The source and the hash are
// boxed once and the argument list is c's, so running it allocates only
// go-redis's command.
type script struct{ src, sha any }

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

// run runs the script on c's key and argument and returns its result.
func (sc *script) run(ctx context.Context, client goredis.UniversalClient, c *call) (int64, error) {
	c.args = [6]any{"evalsha", sc.sha, 1, &c.key, &c.arg}
	cmd := goredis.NewIntCmd(ctx, c.args[:5]...)
	err := client.Process(ctx, cmd)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		c.args[0], c.args[1] = "eval", sc.src
		cmd = goredis.NewIntCmd(ctx, c.args[:5]...)
		err = client.Process(ctx, cmd)
	}
	return cmd.Val(), err
}
