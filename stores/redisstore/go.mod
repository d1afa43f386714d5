module github.com/sessionkit/sessionkit/stores/redisstore

go 1.25.0

require (
	github.com/redis/go-redis/v9 v9.7.3
	github.com/sessionkit/sessionkit v0.1.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
)

replace github.com/sessionkit/sessionkit => ../..
