#!/usr/bin/env bash
# Installs the pinned policy tools into .tools/bin (git-ignored): OPA and Regal, built with Go.
# A second run with the tools present only checks their versions.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
OPA_VERSION="v1.20.2"
REGAL_VERSION="v0.42.0"
mkdir -p "$bin"

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is not installed; OPA and Regal are built with 'go install'. Install Go >= 1.24 and rerun." >&2
  exit 1
fi

if [ -x "$bin/opa" ] && "$bin/opa" version 2>/dev/null | grep -q "^Version: ${OPA_VERSION#v}$"; then
  echo "opa ${OPA_VERSION} present"
else
  echo "building opa ${OPA_VERSION} (a few minutes the first time)"
  GOBIN="$bin" CGO_ENABLED=0 go install "github.com/open-policy-agent/opa@${OPA_VERSION}"
fi

if [ -x "$bin/regal" ] && [ -f "$bin/.regal-version" ] && [ "$(cat "$bin/.regal-version")" = "$REGAL_VERSION" ]; then
  echo "regal ${REGAL_VERSION} present"
else
  echo "building regal ${REGAL_VERSION}"
  # `go install module@version` also asks the proxy for the module's version list (to report
  # deprecations); that list can be refused even when the version itself downloads, so fetch
  # the pinned module and build it from the module cache.
  dir="$(go mod download -json "github.com/open-policy-agent/regal@${REGAL_VERSION}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-X github.com/open-policy-agent/regal/pkg/version.Version=${REGAL_VERSION}" \
    -o "$bin/regal" .)
  echo "$REGAL_VERSION" > "$bin/.regal-version"
fi
