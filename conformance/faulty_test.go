package conformance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

const faultyKey = "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5"

// newFaulty returns a FaultyStore over a fresh memory store.
func newFaulty(t *testing.T) (*conformance.FaultyStore, *memory.Store) {
	t.Helper()
	mem := memory.New(memory.Config{CleanupInterval: -1})
	return conformance.NewFaultyStore(mem), mem
}

func TestFaultyStoreConformance(t *testing.T) {
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		f, _ := newFaulty(t)
		return f.Store()
	}, conformance.StoreOptions{Parallel: true})
}

// capabilities lists which optional interfaces s implements.
func capabilities(s core.Store) [5]bool {
	_, t := s.(core.Toucher)
	_, c := s.(core.CompareAndSwapper)
	_, i := s.(core.Iterator)
	_, d := s.(core.ExpiredDeleter)
	_, u := s.(core.UserIndexer)
	return [5]bool{t, c, i, d, u}
}

func TestFaultyStoreCapabilities(t *testing.T) {
	mem := memory.New(memory.Config{CleanupInterval: -1})
	inners := map[string]core.Store{
		"all":  mem,
		"none": struct{ core.Store }{mem},
		"Toucher": struct {
			core.Store
			core.Toucher
		}{mem, mem},
		"CompareAndSwapper+Iterator": struct {
			core.Store
			core.CompareAndSwapper
			core.Iterator
		}{mem, mem, mem},
		"Toucher+ExpiredDeleter": struct {
			core.Store
			core.Toucher
			core.ExpiredDeleter
		}{mem, mem, mem},
		"ExpiredDeleter": struct {
			core.Store
			core.ExpiredDeleter
		}{mem, mem},
		"UserIndexer": struct {
			core.Store
			core.UserIndexer
		}{mem, mem},
		"UserIndexer+Toucher+Iterator": struct {
			core.Store
			core.UserIndexer
			core.Toucher
			core.Iterator
		}{mem, mem, mem, mem},
		"UserIndexer+ExpiredDeleter": struct {
			core.Store
			core.UserIndexer
			core.ExpiredDeleter
		}{mem, mem, mem},
	}
	for name, inner := range inners {
		got := capabilities(conformance.NewFaultyStore(inner).Store())
		if want := capabilities(inner); got != want {
			t.Errorf("%s: Store() capabilities [Toucher CAS Iterator ExpiredDeleter UserIndexer] = %v, want %v", name, got, want)
		}
	}
	if got := capabilities(conformance.NewFaultyStore(mem)); got != [5]bool{} {
		t.Errorf("*FaultyStore itself has capabilities %v, want none", got)
	}
}

func TestFaultyStoreFailAll(t *testing.T) {
	f, mem := newFaulty(t)
	s, ctx := f.Store(), t.Context()
	exp := time.Now().Add(time.Hour)
	f.FailAll(nil)
	if err := s.Save(ctx, faultyKey, []byte("x"), exp); !errors.Is(err, conformance.ErrInjected) {
		t.Errorf("Save = %v, want ErrInjected", err)
	}
	if _, _, err := s.Load(ctx, faultyKey); !errors.Is(err, conformance.ErrInjected) {
		t.Errorf("Load = %v, want ErrInjected", err)
	}
	if _, err := s.(core.CompareAndSwapper).CompareAndSwap(ctx, faultyKey, 0, nil, exp); !errors.Is(err, conformance.ErrInjected) {
		t.Errorf("CompareAndSwap = %v, want ErrInjected", err)
	}
	if err := s.(core.Iterator).Iterate(ctx, func(string) bool { return true }); !errors.Is(err, conformance.ErrInjected) {
		t.Errorf("Iterate = %v, want ErrInjected", err)
	}
	if _, err := s.(core.UserIndexer).CompareAndSwapUser(ctx, faultyKey, 0, nil, exp, "ann", exp); !errors.Is(err, conformance.ErrInjected) {
		t.Errorf("CompareAndSwapUser = %v, want ErrInjected", err)
	}
	if _, err := s.(core.UserIndexer).UserKeys(ctx, "ann"); !errors.Is(err, conformance.ErrInjected) {
		t.Errorf("UserKeys = %v, want ErrInjected", err)
	}
	if mem.Len() != 0 {
		t.Errorf("a failed Save or CompareAndSwap reached the wrapped store")
	}
	boom := errors.New("boom")
	f.FailAll(boom)
	if err := s.Delete(ctx, faultyKey); !errors.Is(err, boom) {
		t.Errorf("Delete = %v, want the configured error", err)
	}
	f.Heal()
	if err := s.Save(ctx, faultyKey, []byte("x"), exp); err != nil {
		t.Errorf("Save after Heal = %v, want nil", err)
	}
}

func TestFaultyStoreFailAfter(t *testing.T) {
	f, _ := newFaulty(t)
	s, ctx := f.Store(), t.Context()
	f.FailAfter(2, nil)
	for i, want := range []bool{true, true, false, false} {
		_, _, err := s.Load(ctx, faultyKey)
		if ok := err == nil; ok != want {
			t.Errorf("call %d: Load error = %v, want success %t", i+1, err, want)
		}
	}
}

func TestFaultyStoreFailOp(t *testing.T) {
	f, _ := newFaulty(t)
	s, ctx := f.Store(), t.Context()
	f.FailOp(conformance.OpSave, nil)
	if err := s.Save(ctx, faultyKey, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, conformance.ErrInjected) {
		t.Errorf("Save = %v, want ErrInjected", err)
	}
	if _, found, err := s.Load(ctx, faultyKey); err != nil || found {
		t.Errorf("Load = %t, %v; want not found and nil: only Save should fail", found, err)
	}
	if err := s.(core.Toucher).Touch(ctx, faultyKey, time.Now().Add(time.Hour)); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Touch = %v, want the store's own answer (ErrNotFound): only Save should fail", err)
	}
}

func TestFaultyStoreLatencyHonoursContext(t *testing.T) {
	f, _ := newFaulty(t)
	s := f.Store()
	f.SetLatency(time.Hour) // the test would time out if ctx were ignored
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := s.Load(ctx, faultyKey); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with latency and a cancelled ctx = %v, want context.Canceled", err)
	}
	f.SetLatency(time.Millisecond)
	if _, _, err := s.Load(t.Context(), faultyKey); err != nil {
		t.Errorf("Load with 1ms latency = %v, want nil", err)
	}
}

func TestFaultyStoreCounts(t *testing.T) {
	f, _ := newFaulty(t)
	s, ctx := f.Store(), t.Context()
	if n := f.TotalCalls(); n != 0 {
		t.Fatalf("TotalCalls() = %d before any call", n)
	}
	for range 3 {
		_, _, _ = s.Load(ctx, faultyKey)
	}
	f.FailOp(conformance.OpSave, nil)
	_ = s.Save(ctx, faultyKey, nil, time.Now().Add(time.Hour))
	_, _ = s.(core.ExpiredDeleter).DeleteExpired(ctx)
	for op, want := range map[conformance.Op]int{
		conformance.OpLoad: 3, conformance.OpSave: 1, conformance.OpDeleteExpired: 1, conformance.OpDelete: 0,
	} {
		if got := f.Calls(op); got != want {
			t.Errorf("Calls(%s) = %d, want %d", op, got, want)
		}
	}
	if n := f.TotalCalls(); n != 5 {
		t.Errorf("TotalCalls() = %d, want 5", n)
	}
	f.ResetCalls()
	if n := f.Calls(conformance.OpLoad); n != 0 {
		t.Errorf("Calls(Load) after ResetCalls = %d, want 0", n)
	}
}
