module github.com/sessionkit/sessionkit/adapters/nethttp/chiexample

go 1.25.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/sessionkit/sessionkit v0.1.0
)

replace github.com/sessionkit/sessionkit => ../../..
