package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/internal/sqlstore"
)

// DefaultTableName is the default Config.TableName.
const DefaultTableName = "sessionkit_sessions"

// MaxDataSize is the largest record the store keeps, the limit of the
// MEDIUMBLOB data column (16 MiB - 1). Config.MaxDataSize may lower it.
const MaxDataSize = 1<<24 - 1

// identPattern matches a table name the store accepts: an identifier of
// letters, digits and underscores, optionally qualified by a database.
var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// maxIdentLen is MySQL's limit on table and database name length.
const maxIdentLen = 64

// table is a validated, split table name.
type table []string

// parseTable validates name (empty: DefaultTableName) and splits it into
// its optional database and table parts.
func parseTable(name string) (table, error) {
	if name == "" {
		name = DefaultTableName
	}
	if !identPattern.MatchString(name) {
		return nil, fmt.Errorf("sessionkit: mysql: table name %q is not an identifier (letters, digits, _), optionally database-qualified", name)
	}
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if len(p) > maxIdentLen {
			return nil, fmt.Errorf("sessionkit: mysql: table name part %q is longer than %d bytes", p, maxIdentLen)
		}
	}
	return table(parts), nil
}

// quoted returns the table name quoted for SQL.
func (t table) quoted() string { return "`" + strings.Join(t, "`.`") + "`" }

// Schema returns the SQL that creates the session table named table
// (empty: DefaultTableName) with its indexes, for use in a migration tool.
// It uses IF NOT EXISTS, so running it again is harmless. Schema panics if
// table is not a valid name (see Config.TableName).
//
// The table:
//
//	CREATE TABLE IF NOT EXISTS `sessionkit_sessions` (
//		`key`        CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- SHA-256 of the token, hex
//		`data`       MEDIUMBLOB NOT NULL,  -- the encoded session, at most 16 MiB - 1
//		`expiry`     BIGINT     NOT NULL,  -- microseconds since 1970-01-01 UTC
//		`version`    BIGINT     NOT NULL,
//		`user_hash`  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,  -- SHA-256 of the user id, hex
//		`user_until` BIGINT     NULL,      -- the user filing's end, microseconds
//		PRIMARY KEY (`key`),
//		INDEX `expiry_idx` (`expiry`),
//		INDEX `user_idx` (`user_hash`),
//		CHECK (`version` > 0)
//	) ENGINE=InnoDB
//
// A table created by an earlier version of the store lacks the two user
// columns and user_idx; CreateTable adds them. To upgrade it with a
// migration tool instead:
//
//	ALTER TABLE `sessionkit_sessions`
//		ADD COLUMN `user_hash` CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
//		ADD COLUMN `user_until` BIGINT NULL,
//		ADD INDEX `user_idx` (`user_hash`)
func Schema(table string) string {
	t, err := parseTable(table)
	if err != nil {
		panic(err)
	}
	return t.schema()
}

// Column definitions of the user columns, shared by the table and the
// upgrade.
const (
	userHashColumn  = "`user_hash`  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL"
	userUntilColumn = "`user_until` BIGINT     NULL"
	userIndex       = "INDEX `user_idx` (`user_hash`)"
)

func (t table) schema() string {
	return "CREATE TABLE IF NOT EXISTS " + t.quoted() + ` (
	` + "`key`        CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL," + `
	` + "`data`       MEDIUMBLOB NOT NULL," + `
	` + "`expiry`     BIGINT     NOT NULL," + `
	` + "`version`    BIGINT     NOT NULL," + `
	` + userHashColumn + `,
	` + userUntilColumn + `,
	` + "PRIMARY KEY (`key`)," + `
	` + "INDEX `expiry_idx` (`expiry`)," + `
	` + userIndex + `,
	` + "CHECK (`version` > 0)" + `
) ENGINE=InnoDB
`
}

// CreateTable creates the store's table and indexes if they do not exist,
// and upgrades a table created by an earlier version of the store (adding
// the user columns and index, see Schema). It is idempotent and safe to
// call concurrently from several processes. The upgrade looks in
// information_schema first, which works on every MySQL and MariaDB version
// (ADD COLUMN IF NOT EXISTS does not), and alters the table only for what
// is missing, so an up-to-date table is not locked.
func (s *Store) CreateTable(ctx context.Context) error {
	if err := s.createTable(ctx); err != nil {
		return fmt.Errorf("sessionkit: mysql: create table: %w", err)
	}
	return nil
}

func (s *Store) createTable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.table.schema()); err != nil {
		return err
	}
	upgrades := []struct {
		check, alter string
		dup          uint16 // the error a concurrent upgrader's change gives
	}{
		{"SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND COLUMN_NAME = 'user_hash'",
			"ADD COLUMN " + userHashColumn, erDupFieldName},
		{"SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND COLUMN_NAME = 'user_until'",
			"ADD COLUMN " + userUntilColumn, erDupFieldName},
		{"SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND INDEX_NAME = 'user_idx'",
			"ADD " + userIndex, erDupKeyName},
	}
	db, name := s.table.split()
	for _, u := range upgrades {
		var n int
		if err := s.db.QueryRowContext(ctx, u.check, db, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		_, err := s.db.ExecContext(ctx, "ALTER TABLE "+s.table.quoted()+" "+u.alter)
		var me *mysql.MySQLError
		if err != nil && !(errors.As(err, &me) && me.Number == u.dup) {
			return err
		}
	}
	return nil
}

// Errors an ALTER TABLE gives when another process added the column or
// index first.
const (
	erDupFieldName = 1060
	erDupKeyName   = 1061
)

// split returns the table's database (nil: the connection's) and name.
func (t table) split() (db any, name string) {
	if len(t) == 2 {
		return t[0], t[1]
	}
	return nil, t[0]
}

// queries returns the store's statements on the quoted table t.
//
// MySQL reports "rows affected" as rows changed unless the client sets
// CLIENT_FOUND_ROWS, so where the store must know whether a row matched
// (CASInsert meeting a live row, Touch of a live row that may already have
// that expiry) the statement sets LAST_INSERT_ID(version) on the row it
// matched, which the server returns with the result: non-zero means a row
// matched, whatever the DSN says. CASUpdate always changes the version, so
// its rows affected is reliable.
func queries(t string) sqlstore.Queries {
	// The assignments of ON DUPLICATE KEY UPDATE run left to right and
	// each sees the columns assigned before it, so expiry, which the
	// others test, comes last; a replaced expired row loses its filing.
	const keepFiling = " `user_hash` = IF(`expiry` > :now, `user_hash`, NULL)," +
		" `user_until` = IF(`expiry` > :now, `user_until`, NULL),"
	const casInsertUpdate = " ON DUPLICATE KEY UPDATE" +
		" `data` = IF(`expiry` > :now, `data`, VALUES(`data`))," +
		" `version` = IF(`expiry` > :now, LAST_INSERT_ID(`version`), VALUES(`version`)),"
	return sqlstore.Queries{
		Load: "SELECT `data`, `expiry`, `version` FROM " + t + " WHERE `key` = :key AND `expiry` > :now",
		Save: "INSERT INTO " + t + " (`key`, `data`, `expiry`, `version`) VALUES (:key, :data, :expiry, :version)" +
			" ON DUPLICATE KEY UPDATE" + keepFiling +
			" `data` = VALUES(`data`), `version` = `version` + 1, `expiry` = VALUES(`expiry`)",
		Delete:     "DELETE FROM " + t + " WHERE `key` = :key",
		DeleteLive: "DELETE FROM " + t + " WHERE `key` = :key AND `version` = :version AND `expiry` > :now",
		CASInsert: "INSERT INTO " + t + " (`key`, `data`, `expiry`, `version`) VALUES (:key, :data, :expiry, :version)" +
			casInsertUpdate + keepFiling +
			" `expiry` = IF(`expiry` > :now, `expiry`, VALUES(`expiry`))",
		CASInsertUser: "INSERT INTO " + t + " (`key`, `data`, `expiry`, `version`, `user_hash`, `user_until`)" +
			" VALUES (:key, :data, :expiry, :version, :user, :until)" + casInsertUpdate +
			" `user_hash` = IF(`expiry` > :now, `user_hash`, VALUES(`user_hash`))," +
			" `user_until` = IF(`expiry` > :now, `user_until`, VALUES(`user_until`))," +
			" `expiry` = IF(`expiry` > :now, `expiry`, VALUES(`expiry`))",
		CASUpdate: "UPDATE " + t + " SET `data` = :data, `expiry` = :expiry, `version` = :newversion" +
			" WHERE `key` = :key AND `version` = :version AND `expiry` > :now",
		CASUpdateUser: "UPDATE " + t + " SET `data` = :data, `expiry` = :expiry, `version` = :newversion," +
			" `user_hash` = :user, `user_until` = :until" +
			" WHERE `key` = :key AND `version` = :version AND `expiry` > :now",
		LiveExists: "SELECT COUNT(*) FROM " + t + " WHERE `key` = :key AND `expiry` > :now",
		Touch: "UPDATE " + t + " SET `expiry` = :expiry, `version` = LAST_INSERT_ID(`version`)" +
			" WHERE `key` = :key AND `expiry` > :now",
		Iterate: "SELECT `key` FROM " + t + " WHERE `key` > :after AND `expiry` > :now ORDER BY `key` LIMIT " +
			fmt.Sprint(sqlstore.PageSize),
		UserKeys: "SELECT `key` FROM " + t + " WHERE `user_hash` = :user AND `expiry` > :now AND `user_until` > :now",
		DeleteExpired: "DELETE FROM " + t + " WHERE `expiry` <= :now ORDER BY `expiry` LIMIT " +
			fmt.Sprint(sqlstore.PageSize),
		Renew: renewQuery(t),
	}
}

// renewQuery returns Renew's one statement on the quoted table t. Its
// SELECT yields two rows, the successor (w.i = 0) and the retired marker
// (w.i = 1), only if the old row is live at the loaded version and no live
// row exists under the new key; the INSERT then creates the successor (or
// replaces an expired row under its key) and, ON DUPLICATE KEY, replaces
// the old row by the marker under no user. No row, no change: the
// statement changes both rows or neither.
//
// Both reads lock (FOR UPDATE): the old row's record, and the new key's
// record or gap. They therefore see the latest committed rows, whatever
// the isolation level, and the rows cannot change until the statement's
// transaction ends: a concurrent renew, compare-and-swap or delete of the
// old row that committed first makes the SELECT empty, and one that comes
// later waits and then finds the new version. (Without FOR UPDATE, READ
// COMMITTED would read a snapshot and let a renew and a compare-and-swap
// of one version both win.) Two renews whose new keys fall into one gap
// of the index can deadlock on their gap locks; InnoDB rolls one back and
// the store runs it again.
func renewQuery(t string) string {
	return "INSERT INTO " + t + " (`key`, `data`, `expiry`, `version`, `user_hash`, `user_until`)" +
		" SELECT IF(w.i = 0, :key, o.`key`), IF(w.i = 0, CAST(:data AS BINARY), CAST(:retired AS BINARY)), IF(w.i = 0, :expiry, :retiredexpiry)," +
		" IF(w.i = 0, :version, o.`version` + 1), IF(w.i = 0, :user, NULL), IF(w.i = 0, :until, NULL)" +
		" FROM " + t + " AS o JOIN (SELECT 0 AS i UNION ALL SELECT 1) AS w" +
		" WHERE o.`key` = :oldkey AND o.`version` = :oldversion AND o.`expiry` > :now" +
		" AND NOT EXISTS (SELECT 1 FROM " + t + " AS n WHERE n.`key` = :key AND n.`expiry` > :now FOR UPDATE)" +
		" FOR UPDATE" +
		" ON DUPLICATE KEY UPDATE " + t + ".`data` = VALUES(`data`), " + t + ".`version` = VALUES(`version`), " +
		t + ".`user_hash` = VALUES(`user_hash`), " + t + ".`user_until` = VALUES(`user_until`), " +
		t + ".`expiry` = VALUES(`expiry`)"
}

// dialect is MySQL's and MariaDB's.
func dialect(t table) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:    "mysql",
		Queries: queries(t.quoted()),
		InsertWon: func(r sql.Result) (bool, error) {
			id, err := r.LastInsertId()
			return id == 0, err
		},
		TouchFound: func(r sql.Result) (bool, error) {
			id, err := r.LastInsertId()
			return id != 0, err
		},
		TooLarge: new(packetLimit).tooLarge,
		Busy:     deadlock,
	}
}

// erLockDeadlock is the error InnoDB returns to the statement it rolls
// back to break a deadlock. Concurrent upserts of one key meet it (each
// holds a shared lock on the duplicate key and waits for the other's to
// take an exclusive one); the statement had no effect, so the store runs
// it again.
const erLockDeadlock = 1213

// deadlockRetryTimeout bounds how long the store keeps retrying a
// statement InnoDB rolled back to break a deadlock.
const deadlockRetryTimeout = 5 * time.Second

// deadlock reports whether err is InnoDB's deadlock error.
func deadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == erLockDeadlock
}

// MySQL error numbers that mean a record did not fit.
const (
	erNetPacketTooLarge = 1153 // the packet exceeded max_allowed_packet
	erDataTooLong       = 1406 // strict mode: data too long for the column
	erWarnAllowedPacket = 1301 // a value exceeded max_allowed_packet
)

// refusedErr reports whether err is the server's or the driver's own
// refusal of a record too large: for its max_allowed_packet or the column.
func refusedErr(err error) bool {
	if errors.Is(err, mysql.ErrPktTooLarge) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erNetPacketTooLarge, erDataTooLong, erWarnAllowedPacket:
			return true
		}
	}
	return false
}

// statementOverhead bounds what a write's packet carries besides its
// records. The driver sends a record either in the statement's execute
// packet, with the command header, the parameter types and the other
// parameters (two 64-character keys, a user hash, versions and times: the
// largest, Renew's, well under 256 bytes), or alone in a
// COM_STMT_SEND_LONG_DATA packet (7 bytes besides it); which one depends
// on the record's size and the DSN's maxAllowedPacket, which the store
// cannot see, so it takes the larger.
const statementOverhead = 256

// minAllowedPacket is the least max_allowed_packet a server accepts.
const minAllowedPacket = 1024

// limitFresh is how long a limit read from the server spares asking again
// about records that fit it (an administrator may lower it).
const limitFresh = time.Minute

// packetLimit tells a write the server refused for its size from a broken
// connection. A server refuses a packet of max_allowed_packet bytes or
// more by closing the connection; when the close reaches the driver while
// it is still writing, the driver reports a bad connection instead of the
// server's error 1153 (and database/sql tries two more connections, with
// the same outcome).
type packetLimit struct {
	known atomic.Pointer[readLimit] // the limit last read; nil until then
}

// readLimit is a max_allowed_packet read from the server, and when.
type readLimit struct {
	limit int64
	at    time.Time
}

// tooLarge is the dialect's TooLarge: err says the records were refused
// (refusedErr), or the connection broke on records too large (refused).
func (p *packetLimit) tooLarge(ctx context.Context, db *sql.DB, size int, err error) bool {
	return refusedErr(err) || p.refused(ctx, db, size, err)
}

// refused reports whether a write of size bytes of records (their total),
// which failed with err, was refused for its size: the connection broke,
// and the records and statementOverhead reach the server's
// max_allowed_packet, which it asks the server for (within ctx) unless a
// limit read in the last limitFresh already holds them. Any other error,
// or no answer, is not a refusal.
//
// Two cases it cannot tell apart, both needing a connection to break for
// another reason while such a record is written: a record within
// statementOverhead of the limit sent in a packet that fitted, and, with a
// driver that sends large records in pieces (maxAllowedPacket=0 in the
// DSN, which the server never refuses), a record at or over the limit.
// Both are reported as too large (the error still wraps the driver's).
func (p *packetLimit) refused(ctx context.Context, db *sql.DB, size int, err error) bool {
	packet := int64(size) + statementOverhead
	if packet < minAllowedPacket || !brokenConn(err) {
		return false
	}
	if k := p.known.Load(); k != nil && packet < k.limit && time.Since(k.at) < limitFresh {
		return false // it fits: a broken connection, not a refusal
	}
	var limit int64
	if db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&limit) != nil || limit <= 0 {
		return false
	}
	p.known.Store(&readLimit{limit: limit, at: time.Now()})
	return packet >= limit
}

// brokenConn reports whether err means the connection broke, rather than
// the server answering with an error, a timeout or the context ending. (The
// driver reports some timeouts as a broken connection, ErrInvalidConn;
// refused then asks only about a record no packet can carry anyway.)
func brokenConn(err error) bool {
	var me *mysql.MySQLError
	var ne net.Error
	if errors.As(err, &me) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout() { // a hung server, not a refusal
		return false
	}
	var oe *net.OpError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &oe)
}
