package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// openCookie keeps sessions on the client (stores/cookie), sealed with the
// keys of -cookie-keys: comma-separated base64url keys of 32 bytes, the first
// sealing and all of them opening, so a new key goes first and the old one
// stays until its cookies expired. Without keys it generates one and prints
// it, so a restart with the same key keeps the sessions. Logout revokes
// through an in-memory revocation list.
func openCookie(_ context.Context, o options, cfg *core.Config) (func(), error) {
	keys, err := decodeKeys(o.cookieKeys, cookie.KeySize, "-cookie-keys")
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		key := make([]byte, cookie.KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		keys = [][]byte{key}
		fmt.Fprintf(o.stdout, "sessiondemo: generated a cookie key; to keep sessions across restarts, run with SESSIONKIT_COOKIE_KEYS=%s\n",
			base64.RawURLEncoding.EncodeToString(key))
	}
	revoked := memory.New(memory.Config{})
	st, err := cookie.New(cookie.Config{Keys: keys, Revocations: revoked})
	if err != nil {
		_ = revoked.Close()
		return nil, err
	}
	cfg.ClientStore = st
	return func() { _ = revoked.Close() }, nil
}

// decodeKeys decodes a comma-separated list of base64url (or standard
// base64) keys and checks that each is at least size bytes long.
func decodeKeys(list string, size int, flagName string) ([][]byte, error) {
	var keys [][]byte
	for i, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			if k, err = base64.StdEncoding.DecodeString(s); err != nil {
				return nil, fmt.Errorf("%s: key %d is not base64", flagName, i+1)
			}
		}
		if len(k) < size {
			// The length only: never the key material.
			return nil, fmt.Errorf("%s: key %d is %d bytes, want %d", flagName, i+1, len(k), size)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
