#!/usr/bin/env bash
# Local infrastructure without Docker: Kafka 4.1 (KRaft, single node),
# PostgreSQL and an SMTP sink (aiosmtpd writing a Maildir).
#
#   deploy/local/infra.sh start  [kafka|postgres|smtp ...]   (no part = all)
#   deploy/local/infra.sh stop   [kafka|postgres|smtp ...]
#   deploy/local/infra.sh restart [parts...]
#   deploy/local/infra.sh status
#   deploy/local/infra.sh kill   [parts...]   (SIGKILL / crash, for fault tests)
#
# Endpoints, all on 127.0.0.1, each port overridable from the environment:
#   Kafka       INFRA_KAFKA_PORT (9092), controller INFRA_KAFKA_CONTROLLER_PORT (9093)
#   PostgreSQL  INFRA_POSTGRES_PORT (5432): role talent/talent, databases signup, jobs,
#               notifications (services.sh points the services at the same ports)
#   SMTP        INFRA_SMTP_PORT (1025)
# Everything the script writes lives under <repo>/.local/, with one exception: as
# root, the PostgreSQL server runs as the 'postgres' user, and when that user
# cannot reach the checkout (one under a private 0700 directory such as /root),
# the database cluster lives in postgres's home instead, one directory per
# checkout: ~postgres/talent-network/<checkout name>-<hash of its path>/ (the file
# `checkout` in it names the checkout). Nothing removes it but you; `status`
# shows where it is. No directory permission of yours is changed.
# `start` and `stop` are idempotent; `start` returns only once each part answers.
set -euo pipefail

# Work from the repo root whatever the caller's cwd.
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
cd "$ROOT"
LOCAL="$ROOT/.local"

START_TIMEOUT="${INFRA_START_TIMEOUT:-60}"   # seconds until a part must answer
STOP_TIMEOUT=30                               # seconds of SIGTERM before SIGKILL
ALL_PARTS=(kafka postgres smtp)

# A port from the environment, or the default; anything but a TCP port stops here.
port_from_env() {
  local value="${!1:-$2}"
  [[ "$value" =~ ^[0-9]{1,5}$ ]] && ((value >= 1 && value <= 65535)) ||
    { echo "infra: ERROR: $1=$value is not a TCP port (1-65535)" >&2; exit 1; }
  echo "$value"
}

KAFKA_PORT="$(port_from_env INFRA_KAFKA_PORT 9092)"
KAFKA_CONTROLLER_PORT="$(port_from_env INFRA_KAFKA_CONTROLLER_PORT 9093)"
KAFKA_DIR="$LOCAL/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_LOG="$KAFKA_DIR/kafka.log"          # log4j2 output (see kafka/log4j2.properties)
KAFKA_OUT="$KAFKA_DIR/kafka.out"          # JVM stdout/stderr: crashes before logging starts
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG_OFFSET="$KAFKA_DIR/kafka.log.offset"  # size of kafka.log when the JVM was launched
KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
# log4j2's own shutdown hook would stop logging while Kafka's shutdown hook is
# still running, losing the shutdown lines; the file appender flushes every line.
KAFKA_JVM_OPTS=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -XX:+ExitOnOutOfMemoryError "-XX:ErrorFile=$KAFKA_DIR/hs_err_%p.log"
  -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$SCRIPT_DIR/kafka/log4j2.properties"
  -Dlog4j2.shutdownHookEnabled=false
  "-Dkafka.logs.dir=$KAFKA_DIR")

PG_PORT="$(port_from_env INFRA_POSTGRES_PORT 5432)"
# PG_DIR (data/, postgres.log, postgres.pid) is chosen by locate_pg_dir, below.
PG_APP_ROLE=talent
PG_APP_PASSWORD=talent
PG_APP_DATABASES=(signup jobs notifications)

SMTP_PORT="$(port_from_env INFRA_SMTP_PORT 1025)"
SMTP_DIR="$LOCAL/smtp"
SMTP_LOG="$SMTP_DIR/smtp.log"
SMTP_PID="$SMTP_DIR/smtp.pid"
MAIL_DIR="$LOCAL/mail"

say() { echo "infra: $*"; }
warn() { echo "infra: WARNING: $*" >&2; }
die() { echo "infra: ERROR: $*" >&2; exit 1; }

# Print the last lines of a log to stderr, to explain a failure.
show_tail() {
  local file="$1"
  if [[ -s "$file" ]]; then
    echo "----- last lines of ${file#"$ROOT"/} -----" >&2
    tail -n "${2:-40}" "$file" >&2
    echo "-----" >&2
  fi
}

# ---------------------------------------------------------------- processes

# True if pid is a live process. Zombies count as dead: our daemons are
# reparented to PID 1, which may be slow to reap them. A multi-threaded process
# (the JVM) is still dying, holding its ports, while any thread is not a zombie.
is_alive() {
  local pid="$1" stat task
  [[ "$pid" =~ ^[0-9]+$ && -d "/proc/$pid" ]] || return 1
  for task in "/proc/$pid/task/"*/stat; do
    stat="$(cat "$task" 2>/dev/null)" || continue
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]] && return 0
  done
  return 1
}

# True if pid's command line contains the given text (guards against pid reuse).
cmdline_has() {
  local pid="$1" text="$2"
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F -- "$text" >/dev/null
}

# Prints the pid from a pid file if that process is alive and is what we expect.
live_pid() {
  local file="$1" text="$2" pid
  [[ -f "$file" ]] || return 1
  pid="$(head -n1 "$file" 2>/dev/null || true)"
  is_alive "$pid" && cmdline_has "$pid" "$text" || return 1
  echo "$pid"
}

# True if something accepts TCP connections on 127.0.0.1:port.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL. Returns once pid is gone.
terminate() {
  local pid="$1" name="$2" i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    is_alive "$pid" || return 0
    sleep 0.2
  done
  warn "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL"
  sigkill "$pid"
}

sigkill() {
  local pid="$1" i
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    is_alive "$pid" || return 0
    sleep 0.1
  done
  die "process $pid survived SIGKILL"
}

# Run a command detached from the caller: own session (setsid) so that the
# caller's Ctrl-C or the end of its process group does not take it down,
# no stdin, output appended to a log, and without our lock fd (9), which the
# daemon would otherwise hold forever. Sets LAUNCHED_PID. `setsid` does not
# fork here (a background job is never a group leader), so $! is the daemon.
launch() {
  local log="$1"
  shift
  setsid nohup "$@" >>"$log" 2>&1 </dev/null 9>&- &
  LAUNCHED_PID=$!
}

# ---------------------------------------------------------------- kafka

need_java() {
  command -v java >/dev/null ||
    die "java not found: Kafka 4.1 needs a Java 17+ runtime (e.g. apt-get install -y openjdk-17-jre-headless)"
  local major
  major="$(java -version 2>&1 | sed -nE 's/.*version "([0-9]+).*/\1/p' | head -n1)"
  if [[ -z "$major" || "$major" -lt 17 ]]; then
    die "Kafka 4.1 needs Java 17+, but 'java' is $(java -version 2>&1 | head -n1)"
  fi
}

# Fetch the broker jars with Maven once (again only if the pom changed).
# Resolves into a temp dir first so an interrupted download is never mistaken
# for a complete libs/ directory.
ensure_kafka_libs() {
  local stamp want
  want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  stamp="$KAFKA_LIBS/.pom.sha256"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null ||
    die "mvn not found: it is needed once to fetch the Kafka jars (e.g. apt-get install -y maven)"
  say "kafka: resolving jars with Maven into ${KAFKA_LIBS#"$ROOT"/} (first start only)..."
  local t0=$SECONDS tmp="$KAFKA_DIR/libs.partial"
  rm -rf "$tmp"
  mvn -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" >"$KAFKA_DIR/mvn.log" 2>&1 || {
    show_tail "$KAFKA_DIR/mvn.log" 30
    die "mvn could not resolve ${KAFKA_POM#"$ROOT"/} (is the Maven repository reachable?)"
  }
  echo "$want" >"$tmp/.pom.sha256"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  say "kafka: jars resolved in $((SECONDS - t0))s"
}

kafka_java() { java "${KAFKA_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" "$@"; }

# The template's variable parts: the data dir (an absolute path) and the two ports.
render_kafka_config() {
  sed -e "s|@KAFKA_DATA_DIR@|$KAFKA_DATA|g" -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
    -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    "$SCRIPT_DIR/kafka/server.properties" >"$KAFKA_PROPS"
}

# KRaft storage must be formatted exactly once; meta.properties marks it done.
# Formatting again would wipe nothing but would fail, so we skip it.
format_kafka_storage() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local cluster_id
  cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$KAFKA_OUT" | tail -n1)"
  say "kafka: formatting storage in ${KAFKA_DATA#"$ROOT"/} (cluster id $cluster_id)"
  kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_PROPS" >>"$KAFKA_OUT" 2>&1 || {
    show_tail "$KAFKA_OUT"
    die "kafka: storage format failed"
  }
}

kafka_pid() { live_pid "$KAFKA_PID" kafka.Kafka; }

# Ready = the broker logged its "started" line since this JVM was launched AND
# port 9092 accepts. (The port alone is not enough: the socket is bound well
# before the broker has caught up with the metadata log and serves requests.)
kafka_ready() {
  local offset size
  port_open "$KAFKA_PORT" || return 1
  [[ -f "$KAFKA_LOG" ]] || return 1
  offset="$(cat "$KAFKA_LOG_OFFSET" 2>/dev/null || echo 0)"
  size="$(stat -c %s "$KAFKA_LOG")"
  ((size >= offset)) || offset=0 # log rolled over since launch
  tail -c "+$((offset + 1))" "$KAFKA_LOG" | grep -F "Kafka Server started" >/dev/null
}

kafka_launch() {
  mkdir -p "$KAFKA_DIR"
  if kafka_pid >/dev/null; then
    return 0
  fi
  rm -f "$KAFKA_PID"
  need_java
  ensure_kafka_libs
  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$port" && die "kafka: port $port is already used by a process infra.sh did not start"
  done
  render_kafka_config
  format_kafka_storage
  stat -c %s "$KAFKA_LOG" 2>/dev/null >"$KAFKA_LOG_OFFSET" || echo 0 >"$KAFKA_LOG_OFFSET"
  KAFKA_T0=$SECONDS
  launch "$KAFKA_OUT" java "${KAFKA_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS"
  echo "$LAUNCHED_PID" >"$KAFKA_PID"
  say "kafka: launched (pid $LAUNCHED_PID), waiting for it to answer on 127.0.0.1:$KAFKA_PORT..."
}

kafka_wait() {
  local pid i
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    pid="$(kafka_pid)" || {
      show_tail "$KAFKA_OUT" 20
      show_tail "$KAFKA_LOG"
      die "kafka: the broker process exited during startup (logs: ${KAFKA_LOG#"$ROOT"/}, ${KAFKA_OUT#"$ROOT"/})"
    }
    if kafka_ready; then
      if [[ -n "${KAFKA_T0:-}" ]]; then
        say "kafka: ready on 127.0.0.1:$KAFKA_PORT (pid $pid, started in $((SECONDS - KAFKA_T0))s)"
      else
        say "kafka: already running (pid $pid)"
      fi
      return 0
    fi
    sleep 0.25
  done
  show_tail "$KAFKA_LOG"
  die "kafka: not ready after ${START_TIMEOUT}s (pid $pid still running; see ${KAFKA_LOG#"$ROOT"/})"
}

kafka_stop() {
  local pid
  if pid="$(kafka_pid)"; then
    say "kafka: stopping (pid $pid)..."
    terminate "$pid" kafka
    say "kafka: stopped"
  else
    say "kafka: not running"
  fi
  rm -f "$KAFKA_PID"
}

kafka_kill() {
  local pid
  if pid="$(kafka_pid)"; then
    sigkill "$pid"
    say "kafka: killed (SIGKILL, pid $pid); 'start kafka' restarts it on the same data"
  else
    say "kafka: not running"
  fi
  rm -f "$KAFKA_PID"
}

kafka_status() {
  local pid
  if pid="$(kafka_pid)"; then
    if kafka_ready; then
      echo "kafka:    running  pid $pid  127.0.0.1:$KAFKA_PORT  log ${KAFKA_LOG#"$ROOT"/}"
    else
      echo "kafka:    starting pid $pid  (not answering on 127.0.0.1:$KAFKA_PORT yet)"
    fi
  elif port_open "$KAFKA_PORT"; then
    echo "kafka:    foreign  something not started by infra.sh listens on 127.0.0.1:$KAFKA_PORT"
  else
    echo "kafka:    stopped"
  fi
}

# ---------------------------------------------------------------- postgres

# Pick the PostgreSQL binaries: the version our data dir was created with if
# there is one, else the newest installed. Installs the server with apt when
# missing (root only).
PG_BIN=""
find_pg_bin() {
  local want=""
  [[ -f "${PG_DATA:-}/PG_VERSION" ]] && want="$(cat "$PG_DATA/PG_VERSION")"
  if [[ -n "$want" && -x "/usr/lib/postgresql/$want/bin/pg_ctl" ]]; then
    PG_BIN="/usr/lib/postgresql/$want/bin"
  else
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  fi
  [[ -n "$PG_BIN" && -x "$PG_BIN/pg_ctl" ]]
}

need_postgres() {
  find_pg_bin && return 0
  if [[ $EUID -ne 0 ]]; then
    die "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; install them as root: apt-get install -y postgresql"
  fi
  command -v apt-get >/dev/null ||
    die "PostgreSQL is not installed and apt-get is not available to install it"
  say "postgres: not installed, installing with apt-get (postgresql)..."
  # Debian's package may start its own 'main' cluster on 5432; postgres_start
  # then simply reuses that server (and never stops it).
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null ||
    die "apt-get install postgresql failed"
  find_pg_bin || die "postgresql installed, but no /usr/lib/postgresql/*/bin/pg_ctl found"
}

# The server refuses to run as root, so as root everything server-side runs as
# the 'postgres' OS user (created by Debian's package). Its database
# superuser has the same name, so local peer authentication works.
if [[ $EUID -eq 0 ]]; then
  PG_OS_USER=postgres
  AS_PG=(runuser -u postgres --)
else
  PG_OS_USER="$(id -un)"
  AS_PG=()
fi
as_pg() { "${AS_PG[@]}" "$@"; }

# Where this checkout's cluster lives: .local/postgres, unless the server's user
# cannot reach it (see the header). The choice is stable per checkout: an
# existing cluster is used where it is, so start and stop always find it.
locate_pg_dir() {
  local in_tree="$LOCAL/postgres" outside
  PG_DIR="$in_tree"
  if [[ $EUID -eq 0 ]] && id "$PG_OS_USER" >/dev/null 2>&1; then
    outside="$(pg_dir_outside)"
    if [[ -f "$outside/data/PG_VERSION" ]]; then
      PG_DIR="$outside"
    elif [[ ! -f "$in_tree/data/PG_VERSION" ]] && ! as_pg test -x "$LOCAL" 2>/dev/null; then
      PG_DIR="$outside"
    fi
  fi
  PG_DATA="$PG_DIR/data"
  PG_LOG="$PG_DIR/postgres.log"
  PG_PID="$PG_DIR/postgres.pid" # exists only while infra.sh's own server runs
  # Unix socket of our own server. A socket path is limited to ~107 bytes, so a
  # deep checkout falls back to /tmp.
  PG_SOCKET_DIR="$PG_DIR"
  ((${#PG_SOCKET_DIR} + 16 < 100)) || PG_SOCKET_DIR=/tmp
}

# ~postgres/talent-network/<checkout name>-<first 12 hex of sha256(physical path)>
pg_dir_outside() {
  local home name hash
  home="$(getent passwd "$PG_OS_USER" | cut -d: -f6)"
  name="$(basename "$ROOT")"
  hash="$(printf '%s' "$(cd "$ROOT" && pwd -P)" | sha256sum | cut -c1-12)"
  echo "$home/talent-network/${name:0:24}-$hash" # short enough to hold the unix socket
}

# Create the cluster's directory outside the checkout, owned by the server's user.
make_pg_dir_outside() {
  local parent
  parent="$(dirname "$PG_DIR")"
  as_pg test -x "$(dirname "$parent")" ||
    die "postgres: user '$PG_OS_USER' cannot reach its home $(dirname "$parent"), where the cluster of a private checkout goes"
  install -d -o "$PG_OS_USER" -g "$(id -gn "$PG_OS_USER")" -m 0700 "$parent" "$PG_DIR"
  echo "$ROOT" >"$PG_DIR/checkout"
  say "postgres: user '$PG_OS_USER' cannot reach $LOCAL; the cluster goes to $PG_DIR"
}

pg_answers() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

# Pid of the postmaster serving our data dir, if running (postmaster.pid's first line).
pg_own_pid() {
  local pid
  pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null)" || return 1
  is_alive "$pid" && cmdline_has "$pid" "$PG_DATA" || return 1
  echo "$pid"
}

pg_init() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  id "$PG_OS_USER" >/dev/null 2>&1 || die "postgres: OS user '$PG_OS_USER' does not exist (is the postgresql package installed?)"
  if [[ "$PG_DIR" == "$LOCAL"/* ]]; then mkdir -p "$PG_DIR"; else make_pg_dir_outside; fi
  touch "$PG_LOG" # pg_ctl (running as $PG_OS_USER) appends to it
  [[ $EUID -eq 0 ]] && chown "$PG_OS_USER:" "$PG_DIR" "$PG_LOG"
  as_pg test -w "$PG_DIR" ||
    die "postgres: user '$PG_OS_USER' cannot write ${PG_DIR}"
  say "postgres: creating a cluster in ${PG_DATA#"$ROOT"/} (initdb)"
  # peer auth on the unix socket (admin via runuser), passwords over TCP.
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_OS_USER" -E UTF8 --no-locale \
    --auth-local=peer --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 || {
    show_tail "$PG_LOG"
    die "postgres: initdb failed"
  }
}

# Creates role talent and the app databases, idempotently. Needs superuser
# access through a local unix socket; for a server we cannot administer we
# only check that the app role works.
pg_ensure_objects() {
  local sock="" d
  for d in "$PG_SOCKET_DIR" /var/run/postgresql /tmp; do
    [[ -S "$d/.s.PGSQL.$PG_PORT" ]] || continue
    if as_pg "$PG_BIN/psql" -X -q -h "$d" -p "$PG_PORT" -U "$PG_OS_USER" -d postgres -tAc 'select 1' >/dev/null 2>&1; then
      sock="$d"
      break
    fi
  done
  if [[ -z "$sock" ]]; then
    local n names
    names="$(printf "'%s'," "${PG_APP_DATABASES[@]}")"
    n="$(PGPASSWORD="$PG_APP_PASSWORD" PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U "$PG_APP_ROLE" -d postgres -tAc \
      "select count(*) from pg_database where datname in (${names%,})" 2>/dev/null || true)"
    if [[ "$n" == "${#PG_APP_DATABASES[@]}" ]]; then
      say "postgres: no admin access to this server, but role $PG_APP_ROLE and its databases already exist"
    else
      warn "postgres: no admin access to the server on 127.0.0.1:$PG_PORT and role '$PG_APP_ROLE'/databases are missing;" \
        "create them yourself (role $PG_APP_ROLE password '$PG_APP_PASSWORD' LOGIN CREATEDB; databases ${PG_APP_DATABASES[*]} owned by it)"
    fi
    return 0
  fi
  local sql db
  sql="DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_APP_ROLE') THEN
    CREATE ROLE $PG_APP_ROLE LOGIN CREATEDB PASSWORD '$PG_APP_PASSWORD';
  ELSE
    ALTER ROLE $PG_APP_ROLE LOGIN CREATEDB PASSWORD '$PG_APP_PASSWORD';
  END IF;
END \$\$;"
  for db in "${PG_APP_DATABASES[@]}"; do
    # CREATE DATABASE cannot run inside DO; \gexec runs it only when missing.
    sql+=$'\n'"SELECT 'CREATE DATABASE $db OWNER $PG_APP_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')"$'\n\\gexec'
  done
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -U "$PG_OS_USER" -d postgres <<<"$sql" >/dev/null ||
    die "postgres: could not create role $PG_APP_ROLE / databases"
}

postgres_start() {
  mkdir -p "$LOCAL"
  need_postgres
  locate_pg_dir
  find_pg_bin # again: the binaries of the version the located cluster was made with
  local pid
  if pid="$(pg_own_pid)"; then
    pg_wait_answer
    pg_ensure_objects
    say "postgres: already running (pid $pid)"
    return 0
  fi
  if pg_answers; then
    # Someone else's server (e.g. Debian's cluster): use it, never stop it.
    rm -f "$PG_PID"
    say "postgres: a server not started by infra.sh already answers on 127.0.0.1:$PG_PORT; reusing it"
    pg_ensure_objects
    return 0
  fi
  port_open "$PG_PORT" && die "postgres: port $PG_PORT is used by something that is not a PostgreSQL server"
  pg_init
  as_pg test -w "$PG_DATA" ||
    die "postgres: user '$PG_OS_USER' cannot reach the cluster in $PG_DATA (was a parent directory made private after it was created?)"
  local t0=$SECONDS
  # pg_ctl -w returns once the server accepts connections.
  setsid "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories='$PG_SOCKET_DIR'" \
    start >/dev/null 9>&- || {
    show_tail "$PG_LOG"
    die "postgres: server failed to start (log: ${PG_LOG#"$ROOT"/})"
  }
  pid="$(pg_own_pid)" || die "postgres: pg_ctl reported success but no postmaster is running"
  echo "$pid" >"$PG_PID" # marker: this server is ours to stop
  pg_ensure_objects
  say "postgres: ready on 127.0.0.1:$PG_PORT (pid $pid, started in $((SECONDS - t0))s)"
}

pg_wait_answer() {
  local i
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    pg_answers && return 0
    sleep 0.25
  done
  show_tail "$PG_LOG"
  die "postgres: our server is running but not answering on 127.0.0.1:$PG_PORT"
}

postgres_stop() {
  locate_pg_dir
  find_pg_bin || { say "postgres: not installed"; return 0; }
  local pid
  if pid="$(pg_own_pid)"; then
    say "postgres: stopping (pid $pid)..."
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 9>&- ||
      as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 10 stop >/dev/null 9>&- || true
    is_alive "$pid" && sigkill "$pid"
    say "postgres: stopped"
  elif pg_answers; then
    say "postgres: the server on 127.0.0.1:$PG_PORT was not started by infra.sh; leaving it running"
  else
    say "postgres: not running"
  fi
  rm -f "$PG_PID"
}

# Crash the server (immediate shutdown = SIGQUIT, no checkpoint): the next start
# does crash recovery. A raw SIGKILL of the postmaster could leave backends
# holding shared memory, which blocks the restart.
postgres_kill() {
  locate_pg_dir
  find_pg_bin || { say "postgres: not installed"; return 0; }
  local pid
  if pid="$(pg_own_pid)"; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 10 stop >/dev/null 9>&- || sigkill "$pid"
    say "postgres: crashed on purpose (immediate shutdown, pid $pid)"
  else
    say "postgres: no server of ours is running"
  fi
  rm -f "$PG_PID"
}

postgres_status() {
  locate_pg_dir
  if ! find_pg_bin; then
    echo "postgres: not installed"
    return 0
  fi
  local pid
  if pid="$(pg_own_pid)"; then
    echo "postgres: running  pid $pid  127.0.0.1:$PG_PORT  data ${PG_DATA#"$ROOT"/}  log ${PG_LOG#"$ROOT"/}"
  elif pg_answers; then
    echo "postgres: foreign  a server not started by infra.sh answers on 127.0.0.1:$PG_PORT (reused, never stopped)"
  else
    echo "postgres: stopped"
  fi
}

# ---------------------------------------------------------------- smtp

# The uv workspace venv has aiosmtpd; PYTHON overrides it (relative = repo root).
PYTHON="${PYTHON:-.venv/bin/python}"

need_smtp_python() {
  if [[ "$PYTHON" != */* ]]; then
    command -v "$PYTHON" >/dev/null || die "smtp: PYTHON=$PYTHON not found"
  else
    [[ -x "$PYTHON" ]] || die "smtp: no Python at $PYTHON (create the workspace venv with 'uv sync', or set PYTHON=/path/to/python)"
  fi
  "$PYTHON" -c 'import aiosmtpd' 2>/dev/null ||
    die "smtp: $PYTHON cannot import aiosmtpd (install it in that environment, or set PYTHON to one that has it)"
}

smtp_pid() { live_pid "$SMTP_PID" aiosmtpd; }

# Ready = the server sends its "220" greeting.
smtp_ready() {
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTP_PORT && IFS= read -r line <&3 && [[ \$line == 220* ]] && printf 'QUIT\r\n' >&3" 2>/dev/null
}

smtp_start() {
  mkdir -p "$SMTP_DIR"
  # Mailbox uses mailbox.Maildir, which only creates cur/new/tmp if the
  # directory itself is missing; create them so a half-made dir still works.
  mkdir -p "$MAIL_DIR/cur" "$MAIL_DIR/new" "$MAIL_DIR/tmp"
  local pid t0=$SECONDS i already=""
  if pid="$(smtp_pid)"; then
    already=1
  else
    rm -f "$SMTP_PID"
    need_smtp_python
    port_open "$SMTP_PORT" && die "smtp: port $SMTP_PORT is already used by a process infra.sh did not start"
    # -n: don't try to setuid to 'nobody' (we may run as root);
    # -d: log each connection/message at INFO to smtp.log (else it logs nothing).
    PYTHONUNBUFFERED=1 launch "$SMTP_LOG" "$PYTHON" -m aiosmtpd -n -d -l "127.0.0.1:$SMTP_PORT" \
      -c aiosmtpd.handlers.Mailbox "$MAIL_DIR"
    pid=$LAUNCHED_PID
    echo "$pid" >"$SMTP_PID"
  fi
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    is_alive "$pid" || {
      show_tail "$SMTP_LOG"
      die "smtp: aiosmtpd exited during startup (log: ${SMTP_LOG#"$ROOT"/})"
    }
    if smtp_ready; then
      [[ -n "$already" ]] && { say "smtp: already running (pid $pid)"; return 0; }
      say "smtp: ready on 127.0.0.1:$SMTP_PORT (pid $pid, Maildir ${MAIL_DIR#"$ROOT"/}, started in $((SECONDS - t0))s)"
      return 0
    fi
    sleep 0.25
  done
  show_tail "$SMTP_LOG"
  die "smtp: not answering on 127.0.0.1:$SMTP_PORT after ${START_TIMEOUT}s"
}

smtp_stop() {
  local pid
  if pid="$(smtp_pid)"; then
    terminate "$pid" smtp
    say "smtp: stopped"
  else
    say "smtp: not running"
  fi
  rm -f "$SMTP_PID"
}

smtp_kill() {
  local pid
  if pid="$(smtp_pid)"; then
    sigkill "$pid"
    say "smtp: killed (SIGKILL, pid $pid)"
  else
    say "smtp: not running"
  fi
  rm -f "$SMTP_PID"
}

smtp_status() {
  local pid
  if pid="$(smtp_pid)"; then
    echo "smtp:     running  pid $pid  127.0.0.1:$SMTP_PORT  Maildir ${MAIL_DIR#"$ROOT"/}  log ${SMTP_LOG#"$ROOT"/}"
  elif port_open "$SMTP_PORT"; then
    echo "smtp:     foreign  something not started by infra.sh listens on 127.0.0.1:$SMTP_PORT"
  else
    echo "smtp:     stopped"
  fi
}

# ---------------------------------------------------------------- main

usage() {
  sed -n '2,/^set -euo/p' "$SCRIPT_DIR/infra.sh" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit "${1:-0}"
}

# Validates part names; no names = all parts.
parts_or_all() {
  local p
  [[ $# -gt 0 ]] || set -- "${ALL_PARTS[@]}"
  for p in "$@"; do
    case "$p" in
      kafka | postgres | smtp) ;;
      *) die "unknown part '$p' (expected: ${ALL_PARTS[*]})" ;;
    esac
  done
  PARTS=("$@")
}

has_part() {
  local p
  for p in "${PARTS[@]}"; do [[ "$p" == "$1" ]] && return 0; done
  return 1
}

# One start/stop/kill at a time: parallel test workers may all call `start`.
take_lock() {
  mkdir -p "$LOCAL"
  exec 9>"$LOCAL/.infra.lock"
  flock -w 300 9 || die "another infra.sh has held $LOCAL/.infra.lock for 5 minutes"
}

cmd_start() {
  parts_or_all "$@"
  take_lock
  # Kafka's JVM takes longest: launch it first, set up the rest meanwhile.
  if has_part kafka; then kafka_launch; fi
  if has_part postgres; then postgres_start; fi
  if has_part smtp; then smtp_start; fi
  if has_part kafka; then kafka_wait; fi
}

cmd_stop() {
  parts_or_all "$@"
  take_lock
  if has_part smtp; then smtp_stop; fi
  if has_part kafka; then kafka_stop; fi
  if has_part postgres; then postgres_stop; fi
}

cmd_kill() {
  [[ $# -gt 0 ]] || die "kill needs a part: kill kafka|postgres|smtp"
  parts_or_all "$@"
  take_lock
  local p
  for p in "${PARTS[@]}"; do "${p}_kill"; done
}

cmd_status() {
  kafka_status
  postgres_status
  smtp_status
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  restart) shift; (cmd_stop "$@"); cmd_start "$@" ;;
  status) cmd_status ;;
  kill) shift; cmd_kill "$@" ;;
  -h | --help | help) usage 0 ;;
  *) usage 2 >&2 ;;
esac
