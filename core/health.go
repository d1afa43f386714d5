package core

import (
	"context"
	"errors"
	"fmt"
)

// Pinger is implemented by stores that can check, cheaply, that their
// backend answers: a PING, a connection-pool ping, a stat of a directory.
// Manager.Check uses it, and falls back to a Load otherwise.
type Pinger interface {
	// Ping makes one cheap round trip to the store's backend and returns
	// an error wrapping the failure (or ctx.Err()) when it does not
	// answer before ctx ends. It reads and writes no record.
	Ping(ctx context.Context) error
}

// pingKey is the key PingStore loads from a store without Pinger: a
// valid store key that no token hashes to in practice.
const pingKey = "0000000000000000000000000000000000000000000000000000000000000000"

// PingStore checks that st answers: with Ping when st is a Pinger, else
// with a Load of a fixed key (whose record, if any, is not used; a corrupt
// one still proves that the store answers). ClientStores with a
// server-side part (a revocation list) use it in their own Ping.
func PingStore(ctx context.Context, st Store) error {
	if p, ok := st.(Pinger); ok {
		return p.Ping(ctx)
	}
	_, _, err := st.Load(ctx, pingKey)
	if errors.Is(err, ErrCorrupt) {
		return nil
	}
	return err
}

// Check reports whether the Manager's store answers, for a readiness
// probe: one cheap round trip (see Pinger and PingStore), bounded by
// StoreTimeout and ctx. A ClientStore is checked when it implements
// Pinger (stores/cookie does, and pings its revocation list if it has
// one); otherwise it needs no server and Check returns nil. The error
// wraps the store's, context.DeadlineExceeded for a store that does not
// answer in time.
func (m *Manager) Check(ctx context.Context) error {
	cctx, dl := m.callCtx(ctx)
	defer dl.release()
	var err error
	if m.client != nil {
		if p, ok := m.client.(Pinger); ok {
			err = p.Ping(cctx)
		}
	} else {
		err = PingStore(cctx, m.cfg.Store)
	}
	if err != nil {
		return fmt.Errorf("sessionkit: check: %w", err)
	}
	return nil
}
