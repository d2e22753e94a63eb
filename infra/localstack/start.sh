#!/usr/bin/env bash
# Start LocalStack on the host (no Docker) in the background, Lambda functions running as
# host subprocesses (LAMBDA_RUNTIME_EXECUTOR=host-subprocess). Waits for /_localstack/health.
#
# Env overrides: LOCALSTACK_PORT (4566), LOCALSTACK_BIND_HOST (127.0.0.1),
# SMSGW_RUN_DIR (<repo>/.run), LOCALSTACK_PID_FILE, LOCALSTACK_LOG_FILE, LOCALSTACK_DATA_DIR,
# LOCALSTACK_VENV, LOCALSTACK_SERVICES, LOCALSTACK_START_TIMEOUT (60 s).
# Any other LocalStack variable set by the caller (LS_LOG, LAMBDA_KEEPALIVE_MS...) passes through.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN_DIR="${SMSGW_RUN_DIR:-$REPO/.run}"
PORT="${LOCALSTACK_PORT:-4566}"
BIND_HOST="${LOCALSTACK_BIND_HOST:-127.0.0.1}"
PID_FILE="${LOCALSTACK_PID_FILE:-$RUN_DIR/localstack.pid}"
LOG_FILE="${LOCALSTACK_LOG_FILE:-$RUN_DIR/localstack.log}"
DATA_DIR="${LOCALSTACK_DATA_DIR:-$RUN_DIR/localstack}"
VENV="${LOCALSTACK_VENV:-$REPO/.venv-localstack}"
TIMEOUT="${LOCALSTACK_START_TIMEOUT:-60}"
SERVICES_DEFAULT="lambda,sqs,apigateway,logs,cloudformation,s3,iam,sts,sns,secretsmanager,cloudwatch,events,kms"
HEALTH_URL="http://$BIND_HOST:$PORT/_localstack/health"

healthy() {
  curl -fsS --noproxy '*' -m 2 -o /dev/null "$HEALTH_URL" 2>/dev/null
}

is_ours() {  # the PID in the file is alive and is a LocalStack runtime
  local pid="$1"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] \
    && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "localstack.runtime.main"
}

if [ -f "$PID_FILE" ] && is_ours "$(cat "$PID_FILE")"; then
  if healthy; then
    echo "localstack: already running (pid $(cat "$PID_FILE"), http://$BIND_HOST:$PORT)"
    exit 0
  fi
  echo "localstack: pid $(cat "$PID_FILE") is running but not healthy on port $PORT; run stop.sh first" >&2
  exit 1
fi
if healthy; then
  echo "localstack: something else already answers on $BIND_HOST:$PORT (not started by this script)" >&2
  exit 1
fi

"$HERE/setup.sh"
mkdir -p "$RUN_DIR" "$DATA_DIR/tmp"

# OVERRIDE_IN_DOCKER=0: this host may itself be a container, which would make LocalStack
# use container paths (/var/lib/localstack); as a host process with FILESYSTEM_ROOT all its
# files, and TMPDIR (unzipped Lambda code), stay under DATA_DIR.
# DNS_ADDRESS=0: no containers need LocalStack's DNS, and it cannot resolve offline.
# DISABLE_EVENTS=1: no analytics calls out of an offline machine.
# setsid: its own process group, so stop.sh can kill exactly LocalStack and its children.
env \
  GATEWAY_LISTEN="$BIND_HOST:$PORT" \
  SERVICES="${LOCALSTACK_SERVICES:-$SERVICES_DEFAULT}" \
  SKIP_SSL_CERT_DOWNLOAD=1 \
  LAMBDA_RUNTIME_EXECUTOR=host-subprocess \
  LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC="${LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC:-1}" \
  OVERRIDE_IN_DOCKER=0 \
  FILESYSTEM_ROOT="$DATA_DIR/fs" \
  TMPDIR="$DATA_DIR/tmp" \
  DNS_ADDRESS=0 \
  DISABLE_EVENTS=1 \
  setsid "$VENV/bin/python" -m localstack.runtime.main </dev/null >>"$LOG_FILE" 2>&1 &
PID=$!
echo "$PID" >"$PID_FILE"

deadline=$((SECONDS + TIMEOUT))
until healthy; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "localstack: exited during startup; last lines of $LOG_FILE:" >&2
    tail -n 20 "$LOG_FILE" >&2
    rm -f "$PID_FILE"
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "localstack: not healthy after ${TIMEOUT}s (pid $PID left running; see $LOG_FILE)" >&2
    exit 1
  fi
  sleep 0.3
done
echo "localstack: up at http://$BIND_HOST:$PORT (pid $PID, log $LOG_FILE)"
