#!/bin/sh
# make run: the server on the embedded store (etc/server.conf) and one local agent
# (etc/agentd.conf, Host = $hostname); prints a curl command that runs a script; Ctrl-C stops both.
set -u
bin=$(pwd)/bin/ibex
"$bin" server -c etc/server.conf &
server=$!
trap 'kill $server $agent 2>/dev/null; wait 2>/dev/null; exit 0' INT TERM
agent=
for i in $(seq 1 50); do
  curl -fsS http://127.0.0.1:10090/ping >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { echo "make run: the server did not start (see above)" >&2; exit 1; }
  sleep 0.2
done
"$bin" agentd -c etc/agentd.conf &
agent=$!
host=$(cat /proc/sys/kernel/hostname)
sleep 1
cat <<MSG

ibex is running: HTTP API on 127.0.0.1:10090, agent port 20090, one agent as host '$host'.
Run a script on it:

  curl -s -X POST http://127.0.0.1:10090/ibex/v1/tasks -H 'Content-Type: application/json' -d '{
    "title": "hello", "account": "$(id -un)", "creator": "me", "action": "start",
    "script": "#!/bin/sh\necho hello from \$(hostname); uptime", "hosts": ["$host"]}'

then read its output (the create call answers {"dat": ID}):

  curl -s http://127.0.0.1:10090/ibex/v1/task/ID/host/$host/stdout

Ctrl-C stops both.
MSG
wait $server
