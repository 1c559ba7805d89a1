#!/usr/bin/env bash
# Install the Dovecot IMAP server for the claw-back tests (tests/imapserver), only if missing.
# Idempotent: does nothing when /usr/sbin/dovecot is already there. Needs root and apt.
set -euo pipefail
if [ ! -x /usr/sbin/dovecot ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq dovecot-imapd
fi
