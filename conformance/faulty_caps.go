package conformance

import (
	"context"

	"github.com/sessionkit/sessionkit/core"
)

// Store returns the store to hand to the code under test: it applies f's
// faults and counts, and implements exactly the optional capabilities of the
// store f wraps (it is a core.WrapStore of it, so a capability added to the
// core later is kept too).
func (f *FaultyStore) Store() core.Store {
	return core.WrapStore(f.inner, core.StoreWrapper{
		Around: func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
			if err := f.enter(ctx, faultyOp(c.Op)); err != nil {
				return err
			}
			return next(ctx)
		},
	})
}

// faultyOps names the core's store operations as FaultyStore counts them.
var faultyOps = map[core.StoreOp]Op{
	core.OpLoad:               OpLoad,
	core.OpSave:               OpSave,
	core.OpDelete:             OpDelete,
	core.OpTouch:              OpTouch,
	core.OpCompareAndSwap:     OpCompareAndSwap,
	core.OpIterate:            OpIterate,
	core.OpDeleteExpired:      OpDeleteExpired,
	core.OpCompareAndSwapUser: OpCompareAndSwapUser,
	core.OpUserKeys:           OpUserKeys,
	core.OpPing:               OpPing,
	core.OpRenew:              OpRenew,
}

// faultyOp returns the Op of a core store operation; one this package does
// not know yet keeps the core's name.
func faultyOp(op core.StoreOp) Op {
	if o, ok := faultyOps[op]; ok {
		return o
	}
	return Op(op)
}
