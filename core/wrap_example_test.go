package core_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// ExampleWrapStore counts a store's calls by operation. The wrapped store
// still offers compare-and-swap, so the Manager keeps every concurrent
// update.
func ExampleWrapStore() {
	st := memory.New(memory.Config{})
	defer st.Close()
	var mu sync.Mutex
	calls := map[core.StoreOp]int{}
	counted := core.WrapStore(st, core.StoreWrapper{
		Around: func(ctx context.Context, call core.StoreCall, next func(context.Context) error) error {
			mu.Lock()
			calls[call.Op]++
			mu.Unlock()
			return next(ctx)
		},
	})
	_, cas := counted.(core.CompareAndSwapper)
	fmt.Println("compare-and-swap kept:", cas)

	m, err := core.New(core.Config{Store: counted})
	if err != nil {
		panic(err)
	}
	s := m.Begin(httptest.NewRequest(http.MethodGet, "/", nil))
	s.Set("user", "gopher")
	if err := m.Commit(s, make(http.Header)); err != nil {
		panic(err)
	}
	fmt.Println("compare_and_swap calls:", calls[core.OpCompareAndSwap], "save calls:", calls[core.OpSave])
	// Output:
	// compare-and-swap kept: true
	// compare_and_swap calls: 1 save calls: 0
}

// ExampleManager_Check is a readiness probe.
func ExampleManager_Check() {
	st := memory.New(memory.Config{})
	defer st.Close()
	m, err := core.New(core.Config{Store: st})
	if err != nil {
		panic(err)
	}
	probe := func(w http.ResponseWriter, r *http.Request) {
		if err := m.Check(r.Context()); err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}
	rec := httptest.NewRecorder()
	probe(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 200 ok
}
