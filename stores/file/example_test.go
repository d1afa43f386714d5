package file_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sessionkit/sessionkit/stores/file"
)

func Example() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := file.New(file.Config{
		Dir:             dir,
		Sync:            true,             // fsync before rename: survive power loss
		CleanupInterval: 10 * time.Minute, // janitor removes expired files
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// The core passes SHA-256 hashes of session tokens as keys.
	ctx := context.Background()
	key := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	if err := store.Save(ctx, key, []byte("encoded session"), time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	rec, found, err := store.Load(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("found=%v data=%q\n", found, rec.Data)

	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// found=true data="encoded session"
	// sess-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
	// sess-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.lock
}

func ExampleStore_CompareAndSwap() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// Two stores on one directory, as two processes would have.
	a, _ := file.New(file.Config{Dir: dir})
	b, _ := file.New(file.Config{Dir: dir})

	ctx := context.Background()
	key := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	exp := time.Now().Add(time.Hour)
	v, _ := a.CompareAndSwap(ctx, key, 0, []byte("first"), exp) // create

	_, err = b.CompareAndSwap(ctx, key, v, []byte("from b"), exp)
	fmt.Println("b:", err)
	_, err = a.CompareAndSwap(ctx, key, v, []byte("from a"), exp) // stale version
	fmt.Println("a:", err)
	// Output:
	// b: <nil>
	// a: sessionkit: file: compare and swap: sessionkit: version conflict
}

// ExampleStore_UserKeys files two sessions under a user, as the core does
// at login (core.Session.SetUser), and lists them; Delete (a logout, or
// Manager.EndSession) takes a session out of the index with its record.
func ExampleStore_UserKeys() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := file.New(file.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	phone := "1111111111111111111111111111111111111111111111111111111111111111"
	laptop := "2222222222222222222222222222222222222222222222222222222222222222"
	expiry, until := time.Now().Add(time.Hour), time.Now().Add(24*time.Hour)
	for _, key := range []string{phone, laptop} {
		if _, err := store.CompareAndSwapUser(ctx, key, 0, []byte("session"), expiry, "ada@example.com", until); err != nil {
			log.Fatal(err)
		}
	}
	keys, _ := store.UserKeys(ctx, "ada@example.com")
	fmt.Println(len(keys), "sessions")

	if err := store.Delete(ctx, laptop); err != nil {
		log.Fatal(err)
	}
	keys, _ = store.UserKeys(ctx, "ada@example.com")
	fmt.Println(keys[0] == phone)
	// Output:
	// 2 sessions
	// true
}
