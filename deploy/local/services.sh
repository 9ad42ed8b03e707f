#!/usr/bin/env bash
# Runs the three services as background processes on this machine (no Docker).
#
#   deploy/local/services.sh start    start signup, jobs and notifications; wait until /readyz is 200
#   deploy/local/services.sh stop     SIGTERM (graceful), SIGKILL after a bound
#   deploy/local/services.sh status
#
# Every setting comes from the environment (see README, Configuration), so a value the caller set
# always wins. DATABASE_URL and HTTP_PORT differ per service: set SIGNUP_DATABASE_URL,
# JOBS_HTTP_PORT, ... to override one service; a plain DATABASE_URL would point all three at one
# database. Logs go to .local/logs/<service>.log, pid files to .local/run/.
# Unless set, the services' Kafka, database and SMTP settings follow infra.sh's ports
# (INFRA_KAFKA_PORT, INFRA_POSTGRES_PORT, INFRA_SMTP_PORT), and PUBLIC_BASE_URL the gateway's
# port (GATEWAY_PORT, deploy/gateway/local.py), the origin that serves every link of every email.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RUN_DIR="$ROOT/.local/run"
LOG_DIR="$ROOT/.local/logs"
PYTHON="$ROOT/.venv/bin/python"
SERVICES=(signup jobs notifications)
READY_TIMEOUT="${READY_TIMEOUT:-90}"
STOP_TIMEOUT=30

say() { echo "services: $*"; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

default_port() {
  case "$1" in signup) echo 8001 ;; jobs) echo 8002 ;; notifications) echo 8003 ;; esac
}

# The service's own override (JOBS_HTTP_PORT), else HTTP_PORT, else the contract's port.
port_of() {
  local override="${1^^}_HTTP_PORT"
  echo "${!override:-${HTTP_PORT:-$(default_port "$1")}}"
}

export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${INFRA_KAFKA_PORT:-9092}}"
export SMTP_PORT="${SMTP_PORT:-${INFRA_SMTP_PORT:-1025}}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:${GATEWAY_PORT:-8080}}"

# The service's own override (SIGNUP_DATABASE_URL), else DATABASE_URL, else its database on
# infra.sh's PostgreSQL.
database_url_of() {
  local override="${1^^}_DATABASE_URL"
  echo "${!override:-${DATABASE_URL:-postgresql://talent:talent@127.0.0.1:${INFRA_POSTGRES_PORT:-5432}/$1}}"
}

pid_of() {
  local file="$RUN_DIR/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "talent_$1"; then
    echo "$pid"
  else
    rm -f "$file"
    return 1
  fi
}

start_one() {
  local service="$1" pid
  if pid="$(pid_of "$service")"; then
    say "$service already running (pid $pid)"
    return
  fi
  local env_args=("HTTP_PORT=$(port_of "$service")" "DATABASE_URL=$(database_url_of "$service")")
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  env "${env_args[@]}" PYTHONUNBUFFERED=1 setsid nohup "$PYTHON" -m "talent_$service" serve \
    >>"$LOG_DIR/$service.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$service.pid"
  say "$service starting (pid $!, log .local/logs/$service.log)"
}

wait_ready() {
  local service="$1" port deadline
  port="$(port_of "$service")"
  deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    if ! pid_of "$service" >/dev/null; then
      tail -n 30 "$LOG_DIR/$service.log" >&2 || true
      die "$service exited during start (log above)"
    fi
    if ((SECONDS > deadline)); then
      tail -n 30 "$LOG_DIR/$service.log" >&2 || true
      die "$service not ready on port $port after ${READY_TIMEOUT}s (log above)"
    fi
    sleep 0.5
  done
}

stop_one() {
  local service="$1" pid deadline
  pid="$(pid_of "$service")" || { say "$service not running"; return; }
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$service did not stop within ${STOP_TIMEOUT}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$service.pid"
  say "$service stopped"
}

status_one() {
  local service="$1" pid
  if pid="$(pid_of "$service")"; then
    printf '%-14s running  pid %-7s http://127.0.0.1:%s\n' "$service:" "$pid" "$(port_of "$service")"
  else
    printf '%-14s stopped\n' "$service:"
  fi
}

[[ -x "$PYTHON" ]] || die "no workspace environment at .venv: run 'make up' (it runs uv sync first)"

case "${1:-}" in
  start)
    for service in "${SERVICES[@]}"; do start_one "$service"; done
    for service in "${SERVICES[@]}"; do wait_ready "$service"; done
    say "all services ready"
    for service in "${SERVICES[@]}"; do
      port="$(port_of "$service")"
      printf '  %-14s http://127.0.0.1:%s   docs http://127.0.0.1:%s/docs\n' "$service" "$port" "$port"
    done
    ;;
  stop) for service in "${SERVICES[@]}"; do stop_one "$service"; done ;;
  status) for service in "${SERVICES[@]}"; do status_one "$service"; done ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
