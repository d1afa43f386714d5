package memory

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUserIndexBounded: the index does not grow without bound: 10 000
// sessions of one user, created and expired, leave no entry behind once
// swept, and entries leave with records that are deleted or refiled.
func TestUserIndexBounded(t *testing.T) {
	s := New(Config{CleanupInterval: -1})
	defer s.Close()
	ctx := t.Context()
	key := func(n int) string {
		sum := sha256.Sum256([]byte("bounded" + strconv.Itoa(n)))
		return hex.EncodeToString(sum[:])
	}
	exp := time.Now().Add(2 * time.Second) // long enough to write them all under -race
	until := time.Now().Add(time.Hour)
	const n = 10000
	for i := range n {
		if _, err := s.CompareAndSwapUser(ctx, key(i), 0, []byte("x"), exp, "ann", until); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.users.len(); got != n {
		t.Fatalf("index entries after %d filed writes = %d, want %d", n, got, n)
	}
	time.Sleep(time.Until(exp) + 10*time.Millisecond)
	if keys, err := s.UserKeys(ctx, "ann"); err != nil || len(keys) != 0 {
		t.Fatalf("UserKeys(ann) after expiry = %d keys, %v; want none", len(keys), err)
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.users.len(); got != 0 {
		t.Errorf("index entries after the sweep = %d, want 0", got)
	}
	for i := range s.users.shards {
		if m := s.users.shards[i].m; len(m) != 0 {
			t.Errorf("index shard %d keeps %d users after the sweep, want 0", i, len(m))
		}
	}

	// Deleted, refiled and ended-by-swap records leave the index at once.
	exp = time.Now().Add(time.Hour)
	v1, _ := s.CompareAndSwapUser(ctx, key(1), 0, []byte("x"), exp, "ann", until)
	_, _ = s.CompareAndSwapUser(ctx, key(2), 0, []byte("x"), exp, "ann", until)
	v3, _ := s.CompareAndSwapUser(ctx, key(3), 0, []byte("x"), exp, "ann", until)
	_ = s.Delete(ctx, key(2))
	if _, err := s.CompareAndSwapUser(ctx, key(1), v1, []byte("x"), exp, "bob", until); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, key(3), v3, nil, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if got := s.users.len(); got != 1 {
		t.Errorf("index entries after delete, refile and ending swap = %d, want 1 (bob's)", got)
	}
	// Until bounds the filing even when the record lives on.
	short := time.Now().Add(50 * time.Millisecond)
	if _, err := s.CompareAndSwapUser(ctx, key(4), 0, []byte("x"), exp, "cy", short); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(short) + 10*time.Millisecond)
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.users.len(); got != 1 {
		t.Errorf("index entries after cy's until passed and a sweep = %d, want 1 (bob's)", got)
	}
}

// TestUserIndexShrinks files one session for each of many users, lets them
// expire and sweeps: the index shards' maps, which grew to hold every
// user, are rebuilt small (Go maps never shrink by themselves), as the
// record shards are.
func TestUserIndexShrinks(t *testing.T) {
	s := New(Config{CleanupInterval: -1})
	defer s.Close()
	ctx := t.Context()
	const users = 40 * userShardCount * shrinkMin / 16
	exp := time.Now().Add(2 * time.Second)
	until := time.Now().Add(time.Hour)
	for i := range users {
		sum := sha256.Sum256([]byte("shrink" + strconv.Itoa(i)))
		if _, err := s.CompareAndSwapUser(ctx, hex.EncodeToString(sum[:]), 0, nil, exp, "user"+strconv.Itoa(i), until); err != nil {
			t.Fatal(err)
		}
	}
	grown := 0
	for i := range s.users.shards {
		grown = max(grown, s.users.shards[i].peak)
	}
	if grown < shrinkMin {
		t.Fatalf("largest index shard peak = %d, want at least %d for the test to mean anything", grown, shrinkMin)
	}
	time.Sleep(time.Until(exp) + 10*time.Millisecond)
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range s.users.shards {
		sh := &s.users.shards[i]
		if len(sh.m) != 0 || sh.peak != 0 {
			t.Errorf("index shard %d after the sweep: %d users, peak %d; want an empty, rebuilt map", i, len(sh.m), sh.peak)
		}
	}
}

// TestUserSetOutlivesFiling: a record whose filing's until passed keeps
// pointing to its user's set after a sweep dropped that set from the
// index (and its keys); filing it again, refiling it elsewhere and
// deleting it must each leave the index right.
func TestUserSetOutlivesFiling(t *testing.T) {
	s := New(Config{CleanupInterval: -1})
	defer s.Close()
	ctx := t.Context()
	key := strings.Repeat("ab", 32)
	exp, short := time.Now().Add(time.Hour), time.Now().Add(time.Second) // filed within it on a loaded machine
	v, err := s.CompareAndSwapUser(ctx, key, 0, []byte("x"), exp, "dee", short)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(short) + 10*time.Millisecond)
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.users.len(); got != 0 {
		t.Fatalf("index entries after dee's until passed and a sweep = %d, want 0", got)
	}
	k, _ := parseKey(key)
	sh := s.shardOf(k)
	_, p := sh.find(&k, hashKey(&k))
	if dead := sh.at(p).filed; dead == nil || dead.keys != nil {
		t.Fatalf("record's set after the sweep = %+v, want dee's set without keys", dead)
	}
	if v, err = s.CompareAndSwapUser(ctx, key, v, []byte("x"), exp, "dee", exp); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.UserKeys(ctx, "dee"); err != nil || len(keys) != 1 || keys[0] != key {
		t.Fatalf("UserKeys(dee) after filing again = %v, %v; want the key", keys, err)
	}
	if _, err = s.CompareAndSwapUser(ctx, key, v, []byte("x"), exp, "eve", exp); err != nil {
		t.Fatal(err)
	}
	if keys, _ := s.UserKeys(ctx, "dee"); len(keys) != 0 {
		t.Fatalf("UserKeys(dee) after refiling under eve = %d keys, want none", len(keys))
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := s.users.len(); got != 0 {
		t.Errorf("index entries after the delete = %d, want 0", got)
	}
}
