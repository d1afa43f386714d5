#!/bin/sh
# latest-check.sh runs the Gin and Echo adapter tests (conformance suite
# included) against the latest Gin and Echo v4 releases, in a throw-away
# copy of the module, so that go.mod can keep requiring the lowest
# versions the adapters support. Usage, from the repository root:
#
#	sh adapters/latest-check.sh [go test flags...]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && tar --exclude=.git --exclude=bench -cf - .) | tar -C "$tmp" -xf -
cd "$tmp"
go get github.com/gin-gonic/gin@latest github.com/labstack/echo/v4@latest
echo "testing against $(go list -m github.com/gin-gonic/gin) and $(go list -m github.com/labstack/echo/v4)"
go test -count=1 "$@" ./adapters/gin/... ./adapters/echo/...
