package sqlitestore

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
)

// TestRenew runs the shared renew tests on fresh files.
func TestRenew(t *testing.T) {
	sqlstoretest.RunRenew(t, sqlstoretest.RenewHarness{
		New: func(t *testing.T) sqlstoretest.RenewStore { return openStore(t, "", Config{}) },
		ExpireAll: func(t *testing.T, s sqlstoretest.RenewStore) {
			st := s.(*Store)
			if _, err := st.write.Exec("UPDATE "+st.TableName()+" SET expiry = ?", time.Now().Add(-time.Second).UnixMicro()); err != nil {
				t.Fatal(err)
			}
		},
		Count: func(t *testing.T, s sqlstoretest.RenewStore) int {
			st := s.(*Store)
			var n int
			if err := st.read.QueryRow("SELECT COUNT(*) FROM " + st.TableName()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		Other: func(t *testing.T, s sqlstoretest.RenewStore) sqlstoretest.RenewStore {
			return openStore(t, s.(*Store).Path(), Config{})
		},
	})
}
