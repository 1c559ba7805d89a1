#!/usr/bin/env bash
# Install Debian's Postfix for the milter tests (tests/postfixserver runs a private instance from
# a temporary config_directory on loopback ports), only if missing. Idempotent. Needs root and apt.
# The package must not start a system Postfix or take port 25: a policy-rc.d forbids service
# starts during the install, and a system instance that runs anyway is stopped and disabled.
set -euo pipefail
if [ -x /usr/sbin/postfix ] && [ -x /usr/lib/postfix/sbin/smtpd ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
policy=/usr/sbin/policy-rc.d
created=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created=1
fi
cleanup() { if [ -n "$created" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq && apt-get install -y -qq --no-install-recommends postfix
# A system Postfix must not run (the tests start their own): stop and disable it if it does.
if /usr/sbin/postfix status >/dev/null 2>&1; then
  /usr/sbin/postfix stop || true
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now postfix >/dev/null 2>&1 || true
fi
