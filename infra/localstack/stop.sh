#!/usr/bin/env bash
# Stop the LocalStack that start.sh started: exactly the PID in the pid file and its process
# group (start.sh runs it under setsid), nothing else. Lambda environments live in their
# own sessions; LocalStack stops them on shutdown, and each exits by itself when it sees
# its parent gone.
# Env overrides: SMSGW_RUN_DIR, LOCALSTACK_PID_FILE, LOCALSTACK_STOP_TIMEOUT (10 s).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN_DIR="${SMSGW_RUN_DIR:-$REPO/.run}"
PID_FILE="${LOCALSTACK_PID_FILE:-$RUN_DIR/localstack.pid}"
TIMEOUT="${LOCALSTACK_STOP_TIMEOUT:-10}"

if [ ! -f "$PID_FILE" ]; then
  echo "localstack: not running (no $PID_FILE)"
  exit 0
fi
PID="$(cat "$PID_FILE")"
if ! [ -r "/proc/$PID/cmdline" ] || ! tr '\0' ' ' <"/proc/$PID/cmdline" | grep -q "localstack.runtime.main"; then
  echo "localstack: pid $PID from $PID_FILE is not running LocalStack; removing stale pid file"
  rm -f "$PID_FILE"
  exit 0
fi

# SIGTERM first: LocalStack shuts its services down and stops the Lambda environments.
kill -TERM "$PID" 2>/dev/null || true
deadline=$((SECONDS + TIMEOUT))
while kill -0 "$PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
  sleep 0.2
done
# Whatever is left in its process group (the leader or its helpers) goes now. The group id
# is the PID: setsid made it the group leader.
kill -KILL -- "-$PID" 2>/dev/null || true
rm -f "$PID_FILE"
echo "localstack: stopped (pid $PID)"
