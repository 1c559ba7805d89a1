#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (tests/e2e/test_e2e_console.py, driven by
# Playwright with executable_path=/usr/bin/chromium: no browser download). Only where missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
