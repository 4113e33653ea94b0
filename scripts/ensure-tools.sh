#!/usr/bin/env bash
# Installs what the tests need when it is missing (a fresh machine): the test runner, and
# Chromium with playwright-core for the browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "ensure-tools: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi

# The browser tests (services/intake/tests/browser.rs, services/office-queue/tests/
# console_browser.rs): Debian's Chromium, playwright-core and axe-core (@axe-core/playwright).
if ! command -v chromium >/dev/null 2>&1; then
  echo "ensure-tools: installing chromium" >&2
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  fi
fi
if ! command -v node >/dev/null 2>&1; then
  echo "ensure-tools: installing nodejs and npm" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/@axe-core/playwright ]; then
  echo "ensure-tools: installing playwright-core and @axe-core/playwright (tests/browser)" >&2
  npm ci --prefix tests/browser --no-audit --no-fund >/dev/null
fi

# The OpenAPI fuzzing test (tests/tests/openapi_fuzz.rs): schemathesis from PyPI, the
# version TOOLING.md names (4.3 does not run with the hypothesis this machine resolves).
SCHEMATHESIS_VERSION=4.32.5
if [ "$(schemathesis --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "ensure-tools: installing schemathesis $SCHEMATHESIS_VERSION" >&2
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >/dev/null
  hash -r
fi
