package sqlstore

import (
	"reflect"
	"testing"
	"time"
)

func TestCompileUserParams(t *testing.T) {
	q, err := compile("UPDATE t SET u = :user, n = :until WHERE u = :user AND n > :now")
	if err != nil {
		t.Fatal(err)
	}
	if want := "UPDATE t SET u = ?, n = ? WHERE u = ? AND n > ?"; q.text != want {
		t.Errorf("compile text = %q, want %q", q.text, want)
	}
	f := newFiling("alice", time.UnixMicro(42))
	a := &args{user: f.user, until: f.until, now: 7}
	want := []any{UserHash("alice"), int64(42), UserHash("alice"), int64(7)}
	if got := q.args(a); !reflect.DeepEqual(got, want) {
		t.Errorf("args = %v, want %v", got, want)
	}
	none := newFiling("", time.UnixMicro(42))
	a = &args{user: none.user, until: none.until, now: 7}
	if got := q.args(a); got[0] != nil || got[1] != nil || got[2] != nil {
		t.Errorf("args for no user = %v, want NULL user and until", got)
	}
}

func TestUserHash(t *testing.T) {
	// SHA-256 of "alice", as SQL's SHA2('alice', 256) gives it.
	const want = "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
	if got := UserHash("alice"); got != want {
		t.Errorf("UserHash(alice) = %s, want %s", got, want)
	}
	if UserHash("Alice") == UserHash("alice") || UserHash("alice ") == UserHash("alice") {
		t.Error("UserHash conflates ids that differ in case or trailing space")
	}
}
