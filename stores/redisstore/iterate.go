package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
)

// scanCount is the COUNT hint of each SCAN call.
const scanCount = 256

// errStopped ends the scan of every node once fn has returned false.
var errStopped = errors.New("sessionkit: redis: iteration stopped")

// Iterate calls fn with the key of every live session record, using SCAN
// with the key prefix as pattern (never KEYS, so the server is not blocked).
// On a *goredis.ClusterClient it scans every master. fn is never called
// concurrently and never twice with the same key, even though SCAN may
// return a key more than once; to do so Iterate remembers the keys it has
// reported. Keys under the prefix that are not session keys are skipped.
func (s *Store) Iterate(ctx context.Context, fn func(key string) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: redis: iterate: %w", err)
	}
	it := &iteration{fn: fn, seen: make(map[string]struct{})}
	var err error
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return s.scan(ctx, node, it)
		})
	} else {
		err = s.scan(ctx, s.client, it)
	}
	if err != nil && !errors.Is(err, errStopped) {
		return fmt.Errorf("sessionkit: redis: iterate: %w", err)
	}
	return nil
}

// iteration serialises the calls of fn across the nodes of a cluster.
type iteration struct {
	mu      sync.Mutex
	fn      func(key string) bool
	seen    map[string]struct{}
	stopped bool
}

// report passes one key to fn and reports whether to go on.
func (it *iteration) report(key string) bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.stopped {
		return false
	}
	if _, dup := it.seen[key]; dup {
		return true
	}
	it.seen[key] = struct{}{}
	if !it.fn(key) {
		it.stopped = true
		return false
	}
	return true
}

// scan walks one node's key space.
func (s *Store) scan(ctx context.Context, c goredis.Cmdable, it *iteration) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, s.pattern, scanCount).Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			key, ok := strings.CutPrefix(k, s.prefix)
			if !ok || !core.ValidKey(key) {
				continue
			}
			if !it.report(key) {
				return errStopped
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// globEscape quotes the characters SCAN's MATCH pattern treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
