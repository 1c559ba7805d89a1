#!/usr/bin/env bash
# Install the Dovecot IMAP and LMTP servers for the claw-back tests (tests/imapserver), only if
# missing. Idempotent: does nothing when both are already there. Needs root and apt.
set -euo pipefail
if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/lmtp ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq dovecot-imapd dovecot-lmtpd
fi
