package memcachestore

// Exported for the tests of package memcachestore_test.
const (
	ListEntryLen = listEntryLen
	ListFormat   = listFormat
)
