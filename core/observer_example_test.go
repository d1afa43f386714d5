package core_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// printObserver prints the events it cares about; NopObserver ignores
// the others.
type printObserver struct{ core.NopObserver }

func (printObserver) SessionCreated(context.Context) { fmt.Println("created") }

func (printObserver) SessionCommitted(_ context.Context, e core.CommitEvent) {
	fmt.Println("committed:", e.Outcome)
}

func (printObserver) StoreCallFinished(_ context.Context, e core.StoreCallEvent) {
	fmt.Println("store call:", e.Store, e.Op, e.Err)
}

func ExampleObserver() {
	st := memory.New(memory.Config{})
	defer st.Close()
	m, err := core.New(core.Config{Store: st, Observer: printObserver{}})
	if err != nil {
		panic(err)
	}
	s := m.Begin(httptest.NewRequest(http.MethodGet, "/", nil))
	s.Set("user", "gopher")
	if err := m.Commit(s, make(http.Header)); err != nil {
		panic(err)
	}
	// Output:
	// store call: memory compare_and_swap <nil>
	// created
	// committed: written
}
