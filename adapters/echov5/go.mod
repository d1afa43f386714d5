module github.com/sessionkit/sessionkit/adapters/echov5

go 1.25.0

require (
	github.com/labstack/echo/v5 v5.4.5
	github.com/sessionkit/sessionkit v0.1.0
)

require (
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

// The adapter builds from this checkout; the replace is ignored when the
// module is required by another.
replace github.com/sessionkit/sessionkit => ../..
