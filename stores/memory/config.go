package memory

import "time"

// DefaultCleanupInterval is the sweeper period used when
// Config.CleanupInterval is zero.
const DefaultCleanupInterval = time.Minute

// Config configures a Store. The zero value is ready to use.
type Config struct {
	// CleanupInterval is how often a background goroutine removes expired
	// records from memory. Zero means DefaultCleanupInterval (one minute);
	// a negative value disables the sweeper, leaving cleanup to
	// DeleteExpired. Expired records are never returned by Load, whatever
	// this setting.
	CleanupInterval time.Duration

	// MaxRecordSize is the largest record, in bytes, that Save and
	// CompareAndSwap accept; larger records are rejected with an error
	// wrapping core.ErrTooLarge. Zero or negative means no limit.
	MaxRecordSize int
}

// normalise returns c with defaults applied.
func (c Config) normalise() Config {
	if c.CleanupInterval == 0 {
		c.CleanupInterval = DefaultCleanupInterval
	}
	if c.MaxRecordSize < 0 {
		c.MaxRecordSize = 0
	}
	return c
}
