#!/bin/sh
# Offline rspamd for bench/rspamd_bench.py (issue #15).
#
#   bench/rspamd/setup.sh WORKDIR [NORMAL_PORT] [CONTROLLER_PORT]
#
# 1. Installs Debian's rspamd package (Debian 12 bookworm: rspamd 3.4-1 from main) with
#    apt-get when the rspamd binary is missing. The package's postinst enables and starts the
#    system service where systemd runs (in containers policy-rc.d usually denies the start);
#    after installing it, this script stops and disables that service again (`systemctl
#    disable --now rspamd`, only when it did the install). The bench runs rspamd in the
#    foreground as its own child instead (`rspamd -f -c WORKDIR/etc/rspamd.conf --var=...`),
#    see the command printed at the end.
# 2. Writes an offline configuration under WORKDIR (recreated each run except WORKDIR/db, which
#    keeps rspamd's hyperscan cache so a rerun does not recompile every regular expression):
#    - WORKDIR/etc is a copy of the package's /etc/rspamd (the shipped rules, scores and
#      module settings) with every remote map URL (maps.rspamd.com, openphish, the rules
#      update) replaced by an empty local file; the copy's own local.d/override.d are ours,
#      so nothing an administrator put into /etc/rspamd/local.d changes the figures;
#    - modules that ask DNS or the network are disabled: rbl (also SURBL and the e-mail lists),
#      spf, dkim (verification needs the key from DNS), dmarc, arc, asn, mx_check, reputation,
#      once_received (PTR lookups), whitelist (keyed on SPF/DKIM/DMARC), bimi, url_redirector,
#      phishing's phishtank and openphish feeds, hfilter's HELO/hostname/From-domain lookups;
#    - modules that need Redis or an external service are disabled: fuzzy_check, neural,
#      ratelimit, greylist, replies, history_redis, clickhouse, elastic, metadata_exporter,
#      metric_exporter, antivirus, external_services, dcc, p0f, aws_s3, dkim_signing,
#      rspamd_update, spamtrap; Bayes has no Redis server, so it does not classify;
#    - the resolver is 127.0.0.1:9 (UDP discard port: nothing answers there), so a lookup
#      left anywhere fails on loopback instead of leaving the machine;
#    - the normal worker listens on 127.0.0.1:NORMAL_PORT (default 11333), the controller on
#      127.0.0.1:CONTROLLER_PORT (default 11334); no proxy and no fuzzy worker.
#    Everything else (regexp rules, chartable, MIME and HTML rules, phishing's link checks,
#    multimap rules with local maps, composites, forged recipients, mime_types...) runs as
#    shipped.
# 3. Checks that no URL (nor rspamd.com:PORT server) is left in the copy outside comments and
#    symbol descriptions, then prints the command line that runs rspamd on this configuration,
#    one argument a line (the bench adds `taskset -c CPU` in front of it).
#
# Environment (for tests): RSPAMD_ETC copies another tree instead of /etc/rspamd;
# RSPAMD_NO_INSTALL=1 never installs (the configuration is written all the same).
set -eu

WORKDIR=${1:?usage: setup.sh WORKDIR [NORMAL_PORT] [CONTROLLER_PORT]}
NORMAL_PORT=${2:-11333}
CONTROLLER_PORT=${3:-11334}
SRC=${RSPAMD_ETC:-/etc/rspamd}

if [ "${RSPAMD_NO_INSTALL:-0}" != 1 ] && ! command -v rspamd >/dev/null 2>&1; then
    echo "rspamd missing: installing Debian's package (apt-get install rspamd)" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup.sh: run as root (or install rspamd first: apt-get install rspamd)" >&2
        exit 1
    fi
    # another apt may hold the lock: retry for a while
    tries=0
    until DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rspamd >&2; do
        tries=$((tries + 1))
        if [ "$tries" -ge 30 ]; then
            echo "setup.sh: apt-get install rspamd failed" >&2
            exit 1
        fi
        sleep 10
    done
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now rspamd >&2 || true
    fi
fi
[ -f "$SRC/rspamd.conf" ] || { echo "setup.sh: $SRC/rspamd.conf missing" >&2; exit 1; }

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
ETC=$WORKDIR/etc
rm -rf "$ETC" "$WORKDIR/run" "$WORKDIR/log"
mkdir -p "$WORKDIR/db" "$WORKDIR/run" "$WORKDIR/log"
cp -R "$SRC" "$ETC"
rm -rf "$ETC/local.d" "$ETC/override.d"
mkdir -p "$ETC/local.d" "$ETC/override.d"
EMPTY=$WORKDIR/empty.map
: > "$EMPTY"

# Remote maps -> the empty local map (a quoted URL, optionally with a glob;/sign+/fallback+
# prefix); fuzzy storage servers -> nowhere (the module is disabled too).
find "$ETC" -type f -exec sed -i -E \
    -e "s#\"(glob;|sign\\+|fallback\\+)?https?://[^\"]*\"#\"\\1$EMPTY\"#g" \
    -e "s#^([[:space:]]*servers[[:space:]]*=[[:space:]]*)\"[^\"]*rspamd\\.com[^\"]*\"#\\1\"127.0.0.1:9\"#" \
    {} +
if grep -rnE 'https?://|rspamd\.com:[0-9]' "$ETC" \
    | grep -vE '^[^:]*:[0-9]+:[[:space:]]*(#|//|\*)' \
    | grep -vE 'description[[:space:]]*=' >&2; then
    echo "setup.sh: a remote address is left in the configuration above" >&2
    exit 1
fi

cat > "$ETC/rspamd.conf" <<EOF
# Written by mailward's bench/rspamd/setup.sh: offline, loopback only.
.include "\$CONFDIR/common.conf"

options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}

logging {
    type = "file";
    filename = "\$LOGDIR/rspamd.log";
    .include "\$CONFDIR/logging.inc"
}

worker "normal" {
    bind_socket = "127.0.0.1:$NORMAL_PORT";
    .include "\$CONFDIR/worker-normal.inc"
    count = 1;
}

worker "controller" {
    bind_socket = "127.0.0.1:$CONTROLLER_PORT";
    .include "\$CONFDIR/worker-controller.inc"
    count = 1;
}
EOF

cat > "$ETC/local.d/options.inc" <<EOF
dns {
    nameserver = ["127.0.0.1:9"];
    timeout = 0.2s;
    retransmits = 1;
}
local_addrs = [];
map_watch_interval = 1d;
EOF

for module in rbl spf dkim dmarc arc asn mx_check reputation once_received whitelist bimi \
    url_redirector fuzzy_check neural ratelimit greylist replies history_redis clickhouse \
    elastic metadata_exporter metric_exporter antivirus external_services dcc p0f aws_s3 \
    dkim_signing rspamd_update spamtrap; do
    echo "enabled = false;" > "$ETC/local.d/$module.conf"
done
cat > "$ETC/local.d/phishing.conf" <<'EOF'
phishtank_enabled = false;
openphish_enabled = false;
EOF
cat > "$ETC/local.d/hfilter.conf" <<'EOF'
helo_enabled = false;
hostname_enabled = false;
from_enabled = false;
EOF

if [ "$(id -u)" -eq 0 ]; then
    if id _rspamd >/dev/null 2>&1; then
        chown -R _rspamd:_rspamd "$WORKDIR/db" "$WORKDIR/run" "$WORKDIR/log"
        USER_ARGS="-u _rspamd -g _rspamd"
    else
        USER_ARGS="-i"
    fi
else
    USER_ARGS=""
fi

# The command line (one argument a line) for the bench to run in the foreground.
for arg in rspamd -f -c "$ETC/rspamd.conf" $USER_ARGS \
    "--var=CONFDIR=$ETC" "--var=LOCAL_CONFDIR=$ETC" "--var=DBDIR=$WORKDIR/db" \
    "--var=RUNDIR=$WORKDIR/run" "--var=LOGDIR=$WORKDIR/log"; do
    printf '%s\n' "$arg"
done
