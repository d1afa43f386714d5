// Package bench compares sessionkit with the session libraries users would
// pick instead (alexedwards/scs, gorilla/sessions, gin-contrib/sessions and
// labstack/echo-contrib/session) on the same scenarios, through each
// library's real middleware. The benchmarks live in the _test.go files;
// run.sh runs them and writes RESULTS.md.
package bench
