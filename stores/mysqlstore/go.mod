module github.com/sessionkit/sessionkit/stores/mysqlstore

go 1.25.0

require (
	github.com/go-sql-driver/mysql v1.10.1
	github.com/sessionkit/sessionkit v0.1.0
)

require filippo.io/edwards25519 v1.2.0 // indirect

replace github.com/sessionkit/sessionkit => ../..
