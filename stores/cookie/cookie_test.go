package cookie_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func TestNewRejectsBadKeys(t *testing.T) {
	secret := bytes.Repeat([]byte("K"), 31)
	for _, keys := range [][][]byte{nil, {}, {secret}, {fixedKey(1), append(secret, "KK"...)}, {fixedKey(1), nil}} {
		st, err := cookie.New(cookie.Config{Keys: keys})
		if !errors.Is(err, cookie.ErrKey) || st != nil {
			t.Errorf("New(%d keys) = %v, %v; want nil, ErrKey", len(keys), st, err)
			continue
		}
		if strings.Contains(err.Error(), "KKK") {
			t.Errorf("New error %q contains key material", err)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	st := testStore(t, fixedKey(1))
	exp := time.Now().Add(time.Hour).Round(0)
	data := []byte("the encoded session")
	tok, err := st.Seal(ctx, "session", "sid", data, exp)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != tok {
		t.Fatalf("Seal token %q is not canonical unpadded base64url: %v", tok, err)
	}
	if want := 1 + 12 + 8 + 1 + len("sid") + len(data) + 16; len(raw) != want {
		t.Errorf("sealed token carries %d bytes, want %d (version, nonce, deadline, id length, id, data, tag)", len(raw), want)
	}
	if bytes.Contains(raw, data) {
		t.Error("sealed token contains the record in clear")
	}
	id, got, gotExp, ok, err := st.Open(ctx, "session", tok)
	if err != nil || !ok || id != "sid" || !bytes.Equal(got, data) || !gotExp.Equal(exp) {
		t.Fatalf("Open(Seal(x)) = %q, %q, %v, %v, %v; want sid, %q, %v, true, nil", id, got, gotExp, ok, err, data, exp)
	}
	got[0] = 'X' // the caller owns the result
	if _, again, _, _, _ := st.Open(ctx, "session", tok); !bytes.Equal(again, data) {
		t.Error("modifying one Open result changed the next")
	}
	tok2, _ := st.Seal(ctx, "session", "sid", data, exp)
	if tok2 == tok {
		t.Error("two Seals of the same record gave the same token; the nonce must be random")
	}
}

func TestOpenRejects(t *testing.T) {
	now := time.Now()
	st, err := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := st.Seal(ctx, "session", "sid", []byte("data"), now.Add(time.Minute))
	expired, _ := st.Seal(ctx, "session", "sid", []byte("data"), now)
	foreign, _ := testStore(t, fixedKey(9)).Seal(ctx, "session", "sid", []byte("data"), now.Add(time.Minute))
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	v1 := append([]byte{1}, raw[1:]...)
	cases := []struct{ label, name, tok string }{
		{"other cookie name", "other", tok},
		{"expired", "session", expired},
		{"key not listed", "session", foreign},
		{"other version", "session", base64.RawURLEncoding.EncodeToString(v1)},
		{"padded", "session", tok + "="},
		{"std alphabet", "session", strings.NewReplacer("-", "+", "_", "/").Replace(tok) + "+"},
		{"empty", "session", ""},
		{"short", "session", tok[:20]},
		{"truncated tag", "session", tok[:len(tok)-2]},
		{"NUL", "session", tok[:10] + "\x00" + tok[11:]},
		{"64 kB", "session", strings.Repeat(tok, 65536/len(tok)+1)},
		{"unicode", "session", strings.Repeat("ü", 40)},
	}
	for i := range len(tok) {
		b := []byte(tok)
		b[i] ^= 1 // stays in the alphabet for letters and digits; else a decode error
		cases = append(cases, struct{ label, name, tok string }{"bit flip", "session", string(b)})
	}
	for _, c := range cases {
		_, data, _, ok, err := st.Open(ctx, c.name, c.tok)
		if ok || err != nil || data != nil {
			t.Errorf("Open(%s) = %q, ok %v, err %v; want nil, false, nil", c.label, data, ok, err)
		}
	}
	if _, _, _, ok, _ := st.Open(ctx, "session", tok); !ok {
		t.Fatal("the untouched token no longer opens")
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, newKey := fixedKey(1), fixedKey(2)
	before := testStore(t, oldKey)
	during := testStore(t, newKey, oldKey)
	after := testStore(t, newKey)
	exp := time.Now().Add(time.Hour)
	oldTok, _ := before.Seal(ctx, "session", "sid", []byte("old"), exp)
	if _, got, _, ok, _ := during.Open(ctx, "session", oldTok); !ok || string(got) != "old" {
		t.Fatalf("during rotation, a token sealed with the old key: Open = %q, %v; want old, true", got, ok)
	}
	newTok, _ := during.Seal(ctx, "session", "sid", []byte("new"), exp)
	if _, _, _, ok, _ := before.Open(ctx, "session", newTok); ok {
		t.Error("during rotation, Seal used the old key; want the first key")
	}
	if _, got, _, ok, _ := after.Open(ctx, "session", newTok); !ok || string(got) != "new" {
		t.Errorf("after rotation, Open(token sealed during rotation) = %q, %v; want new, true", got, ok)
	}
	if _, _, _, ok, _ := after.Open(ctx, "session", oldTok); ok {
		t.Error("after the old key was removed, its token still opened")
	}
}

// failStore is a Store whose every call fails.
type failStore struct{}

var errDown = errors.New("store down")

func (failStore) Load(context.Context, string) (core.Record, bool, error) {
	return core.Record{}, false, errDown
}
func (failStore) Save(context.Context, string, []byte, time.Time) error { return errDown }
func (failStore) Delete(context.Context, string) error                  { return errDown }

func TestRevocation(t *testing.T) {
	list := memory.New(memory.Config{CleanupInterval: -1})
	defer list.Close()
	st, err := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Revocations: list})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	tok, _ := st.Seal(ctx, "session", "sid-a", []byte("data"), exp)
	earlier, _ := st.Seal(ctx, "session", "sid-a", []byte("before the last change"), exp)
	other, _ := st.Seal(ctx, "session", "sid-b", []byte("data"), exp)
	if err := st.Revoke(ctx, "session", "sid-a", exp); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ label, tok string }{{"revoked", tok}, {"an earlier token of the revoked session", earlier}} {
		if _, _, _, ok, err := st.Open(ctx, "session", c.tok); ok || err != nil {
			t.Errorf("Open(%s) = %v, %v; want false, nil", c.label, ok, err)
		}
	}
	if _, _, _, ok, _ := st.Open(ctx, "session", other); !ok {
		t.Error("revoking one session revoked another")
	}
	rec, found, _ := list.Load(ctx, core.StoreKey("sid-a"))
	if !found || !rec.Expiry.Equal(exp) {
		t.Errorf("revocation record: found %v, expiry %v; want true, %v (the token's deadline)", found, rec.Expiry, exp)
	}

	broken, _ := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Revocations: failStore{}})
	if _, _, _, ok, err := broken.Open(ctx, "session", other); ok || !errors.Is(err, errDown) {
		t.Errorf("Open with a failing revocation list = %v, %v; want false and the store's error", ok, err)
	}
	if err := broken.Revoke(ctx, "session", "sid-b", exp); !errors.Is(err, errDown) {
		t.Errorf("Revoke with a failing revocation list = %v, want the store's error", err)
	}
	if _, _, _, ok, err := broken.Open(ctx, "session", "junk"); ok || err != nil {
		t.Errorf("Open(junk) with a failing revocation list = %v, %v; want false, nil without a store call", ok, err)
	}

	plain := testStore(t, fixedKey(1))
	if err := plain.Revoke(ctx, "session", "sid-b", exp); err != nil {
		t.Errorf("Revoke without a revocation list = %v, want nil", err)
	}
	if _, _, _, ok, _ := plain.Open(ctx, "session", other); !ok {
		t.Error("without a revocation list, Revoke made the token fail; it cannot (documented)")
	}
}

func TestSealTooLarge(t *testing.T) {
	st := testStore(t, fixedKey(1))
	if _, err := st.Seal(ctx, "session", "sid", make([]byte, cookie.MaxTokenSize+1), farFuture); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("Seal(%d bytes) = %v, want ErrTooLarge", cookie.MaxTokenSize+1, err)
	}
	// Every token Seal returns opens; from the first size that makes a
	// token Open would refuse, Seal fails with ErrTooLarge instead.
	refused := 0
	for n := 2900; n <= cookie.MaxTokenSize; n++ {
		tok, err := st.Seal(ctx, "session", "sid", make([]byte, n), farFuture)
		if err != nil {
			if !errors.Is(err, core.ErrTooLarge) {
				t.Fatalf("Seal(%d bytes) = %v, want nil or ErrTooLarge", n, err)
			}
			refused++
			continue
		}
		if refused > 0 {
			t.Fatalf("Seal(%d bytes) succeeded after a smaller size was refused", n)
		}
		if len(tok) > cookie.MaxTokenSize {
			t.Fatalf("Seal(%d bytes) returned a token of %d bytes > MaxTokenSize", n, len(tok))
		}
		if _, data, _, ok, err := st.Open(ctx, "session", tok); !ok || err != nil || len(data) != n {
			t.Fatalf("Open of the token Seal(%d bytes) returned: ok=%v, err=%v, %d bytes", n, ok, err, len(data))
		}
	}
	if refused == 0 {
		t.Errorf("Seal took every size up to %d bytes; want the largest refused", cookie.MaxTokenSize)
	}
}

func TestValidRecognisesSealedTokens(t *testing.T) {
	st := testStore(t, fixedKey(1))
	for n := range 40 {
		tok, _ := st.Seal(ctx, "session", "sid", make([]byte, n), farFuture)
		if !st.Valid(tok) {
			t.Fatalf("Valid(Seal(%d bytes)) = false", n)
		}
		if b := []byte(tok); len(b)%4 != 0 {
			b[len(b)-1] = 'Z' // non-canonical in the last, partial group
			if st.Valid(string(b)) && !canonicalOK(string(b)) {
				t.Fatalf("Valid accepted a non-canonical tail %q", b[len(b)-3:])
			}
		}
	}
	rnd, _ := core.RandomTokens{}.New()
	for _, bad := range []string{"", rnd, strings.Repeat("A", 38), "B" + strings.Repeat("A", 50), strings.Repeat("A", 49) + "=", strings.Repeat("A", 41) + "+" + strings.Repeat("A", 8), strings.Repeat("A", cookie.MaxTokenSize+1)} {
		if st.Valid(bad) {
			t.Errorf("Valid(%.50q) = true", bad)
		}
	}
}

// canonicalOK reports whether s is canonical unpadded base64url.
func canonicalOK(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && base64.RawURLEncoding.EncodeToString(b) == s
}
