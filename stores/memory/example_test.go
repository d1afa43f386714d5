package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func Example() {
	s := memory.New(memory.Config{CleanupInterval: 5 * time.Minute})
	defer s.Close()

	ctx := context.Background()
	key := "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	if err := s.Save(ctx, key, []byte("encoded session"), time.Now().Add(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	rec, found, err := s.Load(ctx, key)
	fmt.Println(string(rec.Data), found, err)

	_ = s.Delete(ctx, key)
	_, found, err = s.Load(ctx, key)
	fmt.Println(found, err)
	// Output:
	// encoded session true <nil>
	// false <nil>
}

func ExampleStore_CompareAndSwap() {
	s := memory.New(memory.Config{})
	defer s.Close()

	ctx := context.Background()
	key := "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
	exp := time.Now().Add(time.Hour)

	v1, _ := s.CompareAndSwap(ctx, key, 0, []byte("created"), exp) // only if absent
	v2, _ := s.CompareAndSwap(ctx, key, v1, []byte("updated"), exp)

	// A writer still holding v1 has lost the race.
	_, err := s.CompareAndSwap(ctx, key, v1, []byte("stale"), exp)
	fmt.Println(v2 != v1, errors.Is(err, core.ErrConflict))

	rec, _, _ := s.Load(ctx, key)
	fmt.Println(string(rec.Data))
	// Output:
	// true true
	// updated
}

func ExampleStore_DeleteExpired() {
	s := memory.New(memory.Config{CleanupInterval: -1}) // no sweeper: clean up by hand
	ctx := context.Background()
	key := "baa5a0964d3320fbc0c6a922140453c8513ea24ab8fd0577034804a967248096"
	exp := time.Now().Add(50 * time.Millisecond)
	_ = s.Save(ctx, key, []byte("x"), exp)
	time.Sleep(time.Until(exp) + 5*time.Millisecond) // expired, still stored

	n, err := s.DeleteExpired(ctx)
	fmt.Println(n, err)
	// Output: 1 <nil>
}
