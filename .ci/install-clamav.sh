#!/usr/bin/env bash
# Install ClamAV's scanning daemon (clamd) for the antivirus tests (tests/clamdserver), only if
# missing. Idempotent: does nothing when clamd is already there. Needs root and apt.
#
# No signatures are downloaded: the tests write their own signature database, and freshclam is
# neither run nor left running. The package's own services (clamav-daemon, clamav-freshclam)
# are stopped and disabled, so the only clamd on the machine is the one a test starts.
set -euo pipefail
if [ ! -x /usr/sbin/clamd ]; then
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d exit 101: "action forbidden", so the package scripts start no service.
  policy=/usr/sbin/policy-rc.d
  made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=yes
  fi
  trap '[ -z "$made_policy" ] || rm -f "$policy"' EXIT
  apt-get update -qq && apt-get install -y -qq --no-install-recommends clamav-daemon clamav
fi
# Whatever started them (an older install, a package upgrade), the system services stay off.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for unit in clamav-daemon.service clamav-daemon.socket clamav-freshclam.service; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
fi
