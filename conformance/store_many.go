package conformance

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// storeManyDeletes is how many records Delete/Many saves, deletes and checks:
// a store that loses one Delete in a thousand at random escapes it with
// probability e^-5 (e^-2 in -short mode), one that loses every thousandth
// never does.
func storeManyDeletes() int {
	if testing.Short() {
		return 2000
	}
	return 5000
}

// storeManyWorkers is how many goroutines share Delete/Many's work, so that
// a store with a round trip per call finishes it quickly.
const storeManyWorkers = 16

func storeCheckDeleteMany(ctx context.Context, s core.Store, _ StoreOptions) error {
	keys := storeNewKeys(storeVolume(ctx, storeManyDeletes()))
	exp := storeExpiry(time.Hour)
	data := []byte("one of many")
	failed, err := storeParallel(keys, func(i int, key string) error {
		label := fmt.Sprintf("k%d", i)
		if err := storeSave(ctx, s, label, key, data, exp, ruleDeleteAll); err != nil {
			return err
		}
		if err := s.Delete(ctx, key); err != nil {
			return storeViolation(fmt.Sprintf("Delete(%s)", label), storeErrText(err), "nil error", ruleDeleteAll)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%d of %d records failed to save or delete; the first: %w", failed, len(keys), err)
	}
	lost, err := storeParallel(keys, func(i int, key string) error {
		return storeLoadMissing(ctx, s, fmt.Sprintf("k%d", i), key, ruleDeleteAll)
	})
	if err != nil {
		return fmt.Errorf("%d of %d records still load after Delete returned nil; the first: %w", lost, len(keys), err)
	}
	return nil
}

// storeParallel calls fn for every key on storeManyWorkers goroutines and
// returns how many calls failed and the first error.
func storeParallel(keys []string, fn func(i int, key string) error) (failed int, first error) {
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	for range storeManyWorkers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(keys) {
					return
				}
				if err := fn(i, keys[i]); err != nil {
					mu.Lock()
					if failed++; first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return failed, first
}
