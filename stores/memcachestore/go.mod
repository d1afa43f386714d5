module github.com/sessionkit/sessionkit/stores/memcachestore

go 1.25.0

require (
	github.com/bradfitz/gomemcache v0.0.0-20260422231931-4d751bb6e37c
	github.com/sessionkit/sessionkit v0.1.0
)

replace github.com/sessionkit/sessionkit => ../..
