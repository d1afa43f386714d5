package conformance

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// naiveWrapper is the counting wrapper a new user writes: it embeds the
// store and so hides every capability.
type naiveWrapper struct{ core.Store }

func memStore(t *testing.T) core.Store {
	st := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestWrappedCatchesLostCapabilities(t *testing.T) {
	inner := memStore(t)
	err := checkWrappedCaps(inner, naiveWrapper{inner})
	if err == nil || !strings.Contains(err.Error(), "want {core.Toucher, core.CompareAndSwapper") {
		t.Fatalf("checkWrappedCaps(naive wrapper) = %v, want the lost capabilities", err)
	}
	if err := checkWrappedCaps(inner, core.WrapStore(inner, core.StoreWrapper{})); err != nil {
		t.Fatal(err)
	}
}

// TestCapabilitiesListed fails when core gains a capability that
// storeCapabilities (and so the Wrapped checks) miss: WrapStore keeps
// every capability in core's own list, and each of those must be here.
func TestCapabilitiesListed(t *testing.T) {
	// A store with every capability: WrapStore's result for it.
	var all core.Store = allCaps{}
	w := core.WrapStore(all, core.StoreWrapper{})
	rt := reflect.TypeOf(w)
	for i := 0; i < rt.NumMethod(); i++ {
		name := rt.Method(i).Name
		switch name {
		case "Load", "Save", "Delete", "Unwrap":
			continue
		}
		found := false
		for _, c := range storeCapabilities {
			if _, ok := c.MethodByName(name); ok {
				found = true
			}
		}
		if !found {
			t.Errorf("WrapStore keeps method %s, which no capability in storeCapabilities has: add the capability", name)
		}
	}
}

// allCaps has every capability (it is never called).
type allCaps struct{ naiveWrapper }

func (allCaps) Touch(context.Context, string, time.Time) error { return nil }
func (allCaps) CompareAndSwap(context.Context, string, uint64, []byte, time.Time) (uint64, error) {
	return 0, nil
}
func (allCaps) Iterate(context.Context, func(string) bool) error    { return nil }
func (allCaps) DeleteExpired(context.Context) (int, error)          { return 0, nil }
func (allCaps) UserKeys(context.Context, string) ([]string, error)  { return nil, nil }
func (allCaps) Ping(context.Context) error                          { return nil }
func (allCaps) Renew(context.Context, core.Renewal) (uint64, error) { return 0, nil }
func (allCaps) CompareAndSwapUser(context.Context, string, uint64, []byte, time.Time, string, time.Time) (uint64, error) {
	return 0, nil
}

// deafPinger answers a ping even when the context has ended.
type deafPinger struct{ core.Store }

func (deafPinger) Ping(context.Context) error { return nil }

func TestHealthCatchesDeafPing(t *testing.T) {
	err := storeHealthErr(t.Context(), deafPinger{memStore(t)})
	if err == nil || !strings.Contains(err.Error(), "want an error wrapping context.Canceled") {
		t.Fatalf("storeHealthErr(deaf pinger) = %v, want a violation", err)
	}
	if err := storeHealthErr(t.Context(), memStore(t)); err != nil {
		t.Fatal(err)
	}
}

// doubleCommitMount commits twice before the header, as a broken adapter
// whose every write path commits might.
func doubleCommitMount(m *core.Manager, h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, r2 := m.BeginRequest(r)
		defer m.Release(s)
		rec := httptest.NewRecorder()
		h(rec, r2, s)
		_ = m.Commit(s, w.Header())
		if err := m.Commit(s, w.Header()); err != nil {
			m.HandleError(w, r, err)
			return
		}
		w.WriteHeader(rec.Code)
	})
}

func TestObservedCatchesDoubleCommit(t *testing.T) {
	v := observedViolations(t, doubleCommitMount, memStore)
	if len(v) == 0 {
		t.Fatal("the observer table passed an adapter that commits twice")
	}
	t.Log(v[0])
	if v := observedViolations(t, managerMount, memStore); len(v) > 0 {
		t.Fatal(v)
	}
}
