#!/usr/bin/env bash
# Installs the pinned policy tools into .tools/bin (git-ignored), built with Go: OPA (the
# sidecar; `run` needs it) and Regal (the Rego linter; only `test` does).
#   bash scripts/install-tools.sh [opa] [regal]    # none named: both
# A second run with the tools present only checks their versions.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/phase.sh
source "$root/scripts/lib/phase.sh"
bin="$root/.tools/bin"
OPA_VERSION="v1.20.2"
REGAL_VERSION="v0.42.0"
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(opa regal)
mkdir -p "$bin"

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "error: Go is not installed; OPA and Regal are built with 'go install'. Install Go >= 1.24 and rerun." >&2
    exit 1
  fi
}

opa() {
  # The version is read whole first: `opa version | grep -q` under pipefail fails whenever grep
  # exits before opa has written its last line (SIGPIPE), and OPA was rebuilt for nothing.
  local version=""
  [ -x "$bin/opa" ] && version="$("$bin/opa" version 2>/dev/null || true)"
  if grep -q "^Version: ${OPA_VERSION#v}$" <<<"$version"; then
    echo "opa ${OPA_VERSION} present"
    return
  fi
  need_go
  phase "building opa ${OPA_VERSION} with Go" \
    env GOBIN="$bin" CGO_ENABLED=0 go install "github.com/open-policy-agent/opa@${OPA_VERSION}"
}

build_regal() {
  # `go install module@version` also asks the proxy for the module's version list (to report
  # deprecations); that list can be refused even when the version itself downloads, so fetch
  # the pinned module and build it from the module cache.
  # Run by `phase` (in a `||` list, where errexit is off), so every step checks its status.
  local dir
  dir="$(go mod download -json "github.com/open-policy-agent/regal@${REGAL_VERSION}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" || return 1
  [ -n "$dir" ] || return 1
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-X github.com/open-policy-agent/regal/pkg/version.Version=${REGAL_VERSION}" \
    -o "$bin/regal" .) || return 1
  echo "$REGAL_VERSION" > "$bin/.regal-version"
}

regal() {
  if [ -x "$bin/regal" ] && [ -f "$bin/.regal-version" ] && [ "$(cat "$bin/.regal-version")" = "$REGAL_VERSION" ]; then
    echo "regal ${REGAL_VERSION} present"
    return
  fi
  need_go
  phase "building regal ${REGAL_VERSION} with Go" build_regal
}

for tool in "${tools[@]}"; do
  case "$tool" in
    opa) opa ;;
    regal) regal ;;
    *) echo "usage: $0 [opa] [regal]" >&2; exit 2 ;;
  esac
done
