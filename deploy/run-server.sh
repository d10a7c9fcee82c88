#!/usr/bin/env bash
# Run nkpipe for good without containers: a Prefect server, a process work pool, the nightly
# deployment and a worker, all on this machine.
#
#   deploy/run-server.sh            # server (background) + pool + deployment + worker (foreground)
#   deploy/run-server.sh server     # only start the server (background) and wait until it answers
#   deploy/run-server.sh worker     # only (re)start a worker; the deployment and schedule stay on the server
#   deploy/run-server.sh stop       # stop the background server
#
# Environment: NKPIPE_CONFIG (config file, default ./config.toml), NKPIPE_DB (store URL, read by each run
# from the worker's environment, never stored in the deployment),
# NKPIPE_POOL (work pool, default nkpipe), PREFECT_PORT (default 4200). The server listens on
# 127.0.0.1 only; its state (deployments, schedules, run history) is in data/prefect/.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
port="${PREFECT_PORT:-4200}"
pool="${NKPIPE_POOL:-nkpipe}"
export PREFECT_HOME="${PREFECT_HOME:-$PWD/data/prefect}" DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_UI_ENABLED=false PREFECT_API_URL="${PREFECT_API_URL:-http://127.0.0.1:$port/api}"
mkdir -p "$PREFECT_HOME"
pid_file="$PREFECT_HOME/server.pid"

healthy() { "$py" -c "import httpx, sys; sys.exit(httpx.get('$PREFECT_API_URL/health', timeout=2).status_code != 200)" 2>/dev/null; }

start_server() {
  if healthy; then echo "Prefect server already answers at $PREFECT_API_URL"; return; fi
  nohup "$py" -m prefect server start --host 127.0.0.1 --port "$port" --no-ui --analytics-off \
    >>"$PREFECT_HOME/server.log" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 120); do healthy && { echo "Prefect server at $PREFECT_API_URL (log: $PREFECT_HOME/server.log)"; return; }; sleep 1; done
  echo "error: the Prefect server did not answer within 120 s; see $PREFECT_HOME/server.log" >&2; exit 1
}

stop_server() {
  if [ ! -f "$pid_file" ]; then
    echo "no Prefect server started by this script to stop (no $pid_file)"; return
  fi
  pid="$(cat "$pid_file")"
  if kill "$pid" 2>/dev/null; then echo "stopped the Prefect server (pid $pid)"
  else echo "the Prefect server (pid $pid) was not running"; fi
  rm -f "$pid_file"
}

case "${1:-all}" in
  server) start_server ;;
  stop) stop_server ;;
  worker) exec "$py" -m prefect worker start --pool "$pool" --type process ;;
  all)
    start_server
    .venv/bin/nkpipe deploy --pool "$pool"
    exec "$py" -m prefect worker start --pool "$pool" --type process ;;
  *) echo "usage: $0 [all|server|worker|stop]" >&2; exit 2 ;;
esac
