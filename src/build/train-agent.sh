#!/bin/sh
# Makes the agent's AOT cache (JDK 25: classes loaded and linked ahead of time, JEP 483/514), which
# bin/ibex passes to `agentd` so that an idle agent maps its classes from one file instead of
# parsing them into its own memory (build-notes §4: the cache is what brings the agent near the
# JVM's floor). Training run: a scratch server on H2, then `bin/ibex agentd` with the launcher's
# own agentd flags plus -XX:AOTCacheOutput; it connects and heartbeats, then gets SIGTERM, and the
# JVM writes the cache as it exits. No task is run: the classes a run needs (posix_spawn's foreign
# function API above all) made the cache 2 MB larger, and an idle agent maps all of it (P4: 40.4 MB
# against 37.4 MB), while the first run after a start took the same 160 ms either way.
# usage: train-agent.sh IMAGE_DIR OUT_FILE          (about 10 s)
set -eu
image=$(cd "$1" && pwd) out=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ibex-train.XXXXXX")
spid='' apid=''
cleanup() {
  [ -n "$apid" ] && kill "$apid" 2>/dev/null
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "train-agent: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }
# wait_for FILE PATTERN SECONDS
wait_for() {
  n=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    n=$((n + 1)); [ $n -gt $(($3 * 10)) ] && return 1
    sleep 0.1
  done
}

cat > "$tmp/server.conf" <<EOF
[HTTP]
Host = "127.0.0.1"
Port = 0
[BasicAuth]
train = "train"
[RPC]
Listen = "127.0.0.1:0"
[Heartbeat]
IP = "127.0.0.1"
[DB]
DBType = "h2"
DSN = "$tmp/data/ibex"
EOF
"$image/bin/ibex" server -c "$tmp/server.conf" > "$tmp/server.log" 2>&1 &
spid=$!
wait_for "$tmp/server.log" 'server ready' 60 || fail "the scratch server did not start"
rpc=$(sed -n 's/.*server ready: http 127\.0\.0\.1:[0-9]*, agents 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/server.log")

cat > "$tmp/agentd.conf" <<EOF
MetaDir = "$tmp/meta"
[Heartbeat]
Interval = 200
Servers = ["127.0.0.1:$rpc"]
Host = "train-1"
EOF
rm -f "$out"
# Without AOT class linking: a linked cache is unusable, and the VM refuses to start, when its
# archived heap objects do not fit the agent's small starting heap; unlinked, it only loads slower.
IBEX_AOT=off IBEX_JAVA_OPTS="-XX:AOTCacheOutput=$(cd "$(dirname "$out")" && pwd)/$(basename "$out") -XX:-AOTClassLinking" \
  "$image/bin/ibex" agentd -c "$tmp/agentd.conf" > "$tmp/agentd.log" 2>&1 &
apid=$!
wait_for "$tmp/agentd.log" 'connected to' 60 || fail "the training agent did not connect"
sleep 2
kill -TERM "$apid"
wait "$apid" || true
apid=''
[ -s "$out" ] || fail "no AOT cache was written to $out"
echo "train-agent: $out ($(($(wc -c < "$out") / 1024)) KiB)"
