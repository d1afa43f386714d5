package conformance

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
)

// revokerKnobs break testUserRevoker in one way each.
type revokerKnobs struct {
	never         bool // RevokeUser records nothing
	ignoreKeep    bool // RevokeUser ends the kept session too
	allUsers      bool // a call for one user ends every user's sessions
	oneShot       bool // a revoked session is refused once, then opens again
	errorRevoked  bool // a revoked session fails to open (an error) instead of being no session
	replace       bool // a later call replaces the earlier ones instead of adding to them
	sinceFromSeal bool // compares the call with when the token was sealed, not when the session was filed under the user
}

// testUserRevoker is a core.UserRevoker kept in memory in front of a
// stores/cookie store (which seals and retires the tokens), correct with
// the zero revokerKnobs, so that each knob is the only thing wrong.
type testUserRevoker struct {
	core.RetiringClientStore
	k revokerKnobs

	mu       sync.Mutex
	calls    map[string][]testRevocation // user → RevokeUser calls
	refused  map[string]bool             // public id → refused once (oneShot)
	sealedAt map[string]time.Time        // public id → last Seal (sinceFromSeal)
}

// testRevocation is one RevokeUser call.
type testRevocation struct {
	keep string
	at   time.Time
}

// newTestUserRevoker returns a testUserRevoker on a cookie store with a
// revocation list.
func newTestUserRevoker(t *testing.T, k revokerKnobs) *testUserRevoker {
	return &testUserRevoker{
		RetiringClientStore: testClientStore(t),
		k:                   k,
		calls:               make(map[string][]testRevocation),
		refused:             make(map[string]bool),
		sealedAt:            make(map[string]time.Time),
	}
}

// publicIDKey is where the core keeps Session.ID among the stored values
// (core/meta.go); only the sinceFromSeal knob reads it.
const publicIDKey = "\x00sessionkit.id"

func (r *testUserRevoker) Seal(ctx context.Context, name, id string, data []byte, expiry time.Time) (string, error) {
	tok, err := r.RetiringClientStore.Seal(ctx, name, id, data, expiry)
	if err == nil && r.k.sinceFromSeal {
		if _, values, derr := (core.BinaryCodec{}).Decode(data); derr == nil {
			if pid, _ := values[publicIDKey].(string); pid != "" {
				r.mu.Lock()
				r.sealedAt[pid] = time.Now()
				r.mu.Unlock()
			}
		}
	}
	return tok, err
}

func (r *testUserRevoker) RevokeUser(ctx context.Context, name, user, keepID string, at, until time.Time) error {
	if r.k.never {
		return nil
	}
	if r.k.ignoreKeep {
		keepID = ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := testRevocation{keep: keepID, at: at}
	if r.k.replace {
		r.calls[user] = []testRevocation{c}
	} else {
		r.calls[user] = append(r.calls[user], c)
	}
	return nil
}

func (r *testUserRevoker) UserRevoked(ctx context.Context, name, user, id string, since time.Time) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.sealedAt[id]; ok && r.k.sinceFromSeal {
		since = t
	}
	calls := r.calls[user]
	if r.k.allUsers {
		calls = nil
		for _, cs := range r.calls {
			calls = append(calls, cs...)
		}
	}
	revoked := false
	for _, c := range calls {
		if c.keep != id && !since.After(c.at) {
			revoked = true
		}
	}
	if revoked && r.k.oneShot {
		if r.refused[id] {
			return false, nil
		}
		r.refused[id] = true
	}
	if revoked && r.k.errorRevoked {
		return false, errors.New("testUserRevoker: session revoked")
	}
	return revoked, nil
}

// claimingRevoker is a cookie store without a revocation list whose
// RevokeUser claims success, ending nothing.
type claimingRevoker struct{ *cookie.ClientStore }

func (claimingRevoker) RevokeUser(ctx context.Context, name, user, keepID string, at, until time.Time) error {
	return nil
}

// noListClientStore returns a stores/cookie store without a revocation list.
func noListClientStore(t *testing.T) *cookie.ClientStore {
	st, err := cookie.New(cookie.Config{Keys: [][]byte{bytes.Repeat([]byte{7}, cookie.KeySize)}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// revokerVariant is a brokenVariant with client-side sessions in a
// testUserRevoker broken by k.
func revokerVariant(k revokerKnobs) brokenVariant {
	return brokenVariant{client: func(t *testing.T) core.ClientStore { return newTestUserRevoker(t, k) }}
}

// userRevokerVariants are the broken variants of the client-side
// user-session check (merged into brokenVariants).
var userRevokerVariants = map[string]brokenVariant{
	"revokerNever":         revokerVariant(revokerKnobs{never: true}),
	"revokerIgnoreKeep":    revokerVariant(revokerKnobs{ignoreKeep: true}),
	"revokerAllUsers":      revokerVariant(revokerKnobs{allUsers: true}),
	"revokerOneShot":       revokerVariant(revokerKnobs{oneShot: true}),
	"revokerErrorRevoked":  revokerVariant(revokerKnobs{errorRevoked: true}),
	"revokerReplace":       revokerVariant(revokerKnobs{replace: true}),
	"revokerSinceFromSeal": revokerVariant(revokerKnobs{sinceFromSeal: true}),
	"revokerClaimsNoList": {keepsEndedTokens: true, client: func(t *testing.T) core.ClientStore {
		return claimingRevoker{noListClientStore(t)}
	}},
}

func init() {
	for name, v := range userRevokerVariants {
		brokenVariants[name] = v
	}
}

// TestClientUserSessionsReference runs Features/ClientUserSessions against
// the stores it must pass with: stores/cookie with and without a
// revocation list, a client store that is no core.UserRevoker, and the
// unbroken testUserRevoker the broken variants start from.
func TestClientUserSessionsReference(t *testing.T) {
	var check adapterCheck
	for _, c := range adapterFeatureChecks {
		if c.name == "ClientUserSessions" {
			check = c
		}
	}
	if check.run == nil {
		t.Fatal("no check Features/ClientUserSessions")
	}
	mount := testAdapter(brokenKnobs{})
	for _, tc := range []struct {
		name string
		opts AdapterOptions
	}{
		{"cookieRevocations", AdapterOptions{NewClientStore: func(t *testing.T) core.ClientStore { return testClientStore(t) }}},
		{"cookieNoRevocations", AdapterOptions{KeepsEndedTokens: true, NewClientStore: func(t *testing.T) core.ClientStore { return noListClientStore(t) }}},
		{"notUserRevoker", AdapterOptions{NewClientStore: func(t *testing.T) core.ClientStore { return revokeOnlyClientStore{testClientStore(t)} }}},
		{"testUserRevoker", AdapterOptions{NewClientStore: func(t *testing.T) core.ClientStore { return newTestUserRevoker(t, revokerKnobs{}) }}},
	} {
		t.Run(tc.name, func(t *testing.T) { adapterRunCheck(t, mount, tc.opts, check) })
	}
}

// TestClientUserSessionsSkipsServerSide checks that the check is skipped,
// not failed, for server-side stores, and that the suite's client-store
// wrapper keeps a core.UserRevoker (or the check would never reach it).
func TestClientUserSessionsSkipsServerSide(t *testing.T) {
	mount := testAdapter(brokenKnobs{})
	e := newAdapterEnv(t, mount, AdapterOptions{})
	for _, c := range adapterFeatureChecks {
		if c.name == "ClientUserSessions" && c.skip(e) == "" {
			t.Error("Features/ClientUserSessions is not skipped for a memory store")
		}
	}
	for _, cs := range []core.ClientStore{testClientStore(t), newTestUserRevoker(t, revokerKnobs{})} {
		if _, ok := newAdapterClientStore(NewFaultyStore(nil), cs).(core.UserRevoker); !ok {
			t.Errorf("the wrapped %T is no core.UserRevoker", cs)
		}
		if _, ok := newAdapterClientStore(NewFaultyStore(nil), cs).(core.RetiringClientStore); !ok {
			t.Errorf("the wrapped %T is no core.RetiringClientStore", cs)
		}
	}
	if _, ok := newAdapterClientStore(NewFaultyStore(nil), revokeOnlyClientStore{testClientStore(t)}).(core.UserRevoker); ok {
		t.Error("the wrapper adds core.UserRevoker to a store without it")
	}
}
