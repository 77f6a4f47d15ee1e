#!/usr/bin/env bash
# Local Neo4j 5.26 LTS Community without Docker: fetched from Maven Central with Maven,
# run as a real server process on 127.0.0.1 (Bolt only), data under var/.
#
#   deploy/neo4j.sh fetch            download the jars into var/neo4j/lib (once)
#   deploy/neo4j.sh start [INSTANCE] start instance (default "dev"), wait until Bolt answers
#   deploy/neo4j.sh stop  [INSTANCE] SIGTERM, wait for a clean shutdown
#   deploy/neo4j.sh status [INSTANCE]
#
# Instances: dev (port 7687, used by `make up`) and test (port 7688, used by `make test`).
# Environment: VEIL_NEO4J_PASSWORD or VEIL_NEO4J_PASSWORD_FILE (default: the install's own
# var/secrets/neo4j-password, generated once with mode 0600; the app reads the same file),
# VEIL_NEO4J_HEAP (default 2g), VEIL_NEO4J_PAGECACHE (default 2g), JAVA_HOME.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$ROOT/var/neo4j/lib"
CMD="${1:-status}"
INSTANCE="${2:-dev}"
case "$INSTANCE" in
  dev)  PORT="${VEIL_NEO4J_BOLT_PORT:-7687}" ;;
  test) PORT="${VEIL_NEO4J_BOLT_PORT:-7688}" ;;
  *)    PORT="${VEIL_NEO4J_BOLT_PORT:-7689}" ;;
esac
HOME_DIR="$ROOT/var/neo4j/$INSTANCE"
PIDFILE="$HOME_DIR/neo4j.pid"
HEAP="${VEIL_NEO4J_HEAP:-2g}"
PAGECACHE="${VEIL_NEO4J_PAGECACHE:-2g}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"

die() { echo "neo4j.sh: $*" >&2; exit 1; }

# The neo4j user's password: provided, or this install's own generated file (never a constant).
neo4j_password() {
  if [ -n "${VEIL_NEO4J_PASSWORD:-}" ]; then printf '%s' "$VEIL_NEO4J_PASSWORD"; return 0; fi
  local file="${VEIL_NEO4J_PASSWORD_FILE:-}"
  if [ -z "$file" ]; then
    file=$(cd "$ROOT" && "$PY" -m core.secrets ensure neo4j-password) || die "could not create the Neo4j password file"
    case "$file" in /*) ;; *) file="$ROOT/$file" ;; esac
  fi
  [ -r "$file" ] || die "cannot read the Neo4j password file $file"
  tr -d '[:space:]' < "$file"
}

java_bin() {
  local j="java"
  [ -n "${JAVA_HOME:-}" ] && j="$JAVA_HOME/bin/java"
  command -v "$j" >/dev/null 2>&1 || die "Java 17+ is required (no 'java' on PATH, JAVA_HOME unset). Install OpenJDK 17, e.g. 'apt-get install openjdk-17-jre-headless'."
  local v
  v=$("$j" -version 2>&1 | awk -F'"' '/version/ {print $2}' | cut -d. -f1)
  [ "${v:-0}" -ge 17 ] 2>/dev/null || die "Java 17+ is required, found version '${v:-unknown}' ($j). Neo4j 5.26 runs on Java 17 or 21."
  echo "$j"
}

fetch() {
  if [ -f "$LIB/.complete" ]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || die "Maven is required to fetch Neo4j (no 'mvn' on PATH). Install it, e.g. 'apt-get install maven'."
  java_bin >/dev/null
  echo "neo4j.sh: fetching Neo4j $(grep -o '<neo4j.version>[^<]*' "$ROOT/deploy/neo4j/pom.xml" | cut -d'>' -f2) Community from Maven Central (about 125 MB, once)..."
  mkdir -p "$LIB"
  mvn -B -q -f "$ROOT/deploy/neo4j/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIB" -DincludeScope=runtime \
    || die "Maven could not fetch org.neo4j:neo4j (see the output above)."
  touch "$LIB/.complete"
}

is_running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

write_conf() {
  mkdir -p "$HOME_DIR/conf" "$HOME_DIR/data" "$HOME_DIR/logs" "$HOME_DIR/run"
  cat > "$HOME_DIR/conf/neo4j.conf" <<CONF
# Written by deploy/neo4j.sh for instance '$INSTANCE'. Sized for a 2-core / 24 GiB machine
# shared with the API: 2 GiB heap, 2 GiB page cache (override with VEIL_NEO4J_HEAP/PAGECACHE).
server.default_listen_address=127.0.0.1
server.bolt.enabled=true
server.bolt.listen_address=127.0.0.1:$PORT
server.http.enabled=false
server.https.enabled=false
dbms.security.auth_enabled=true
dbms.usage_report.enabled=false
server.memory.heap.initial_size=$HEAP
server.memory.heap.max_size=$HEAP
server.memory.pagecache.size=$PAGECACHE
db.tx_log.rotation.retention_policy=2 files
server.directories.data=$HOME_DIR/data
server.directories.logs=$HOME_DIR/logs
server.directories.run=$HOME_DIR/run
server.jvm.additional=-XX:+UseG1GC
CONF
}

start() {
  fetch
  if is_running; then echo "neo4j.sh: instance '$INSTANCE' already running (pid $(cat "$PIDFILE"), bolt://127.0.0.1:$PORT)"; return 0; fi
  local j; j=$(java_bin)
  if "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1', $PORT)) == 0 else 1)"; then
    die "port $PORT is already in use by another process (another Neo4j?); stop it or set VEIL_NEO4J_BOLT_PORT"
  fi
  local password; password=$(neo4j_password)
  write_conf
  local fresh=0
  [ -d "$HOME_DIR/data/databases/neo4j" ] || fresh=1
  echo "neo4j.sh: starting instance '$INSTANCE' on bolt://127.0.0.1:$PORT (logs: $HOME_DIR/logs)"
  # Same JVM flags as the stock launcher.
  nohup "$j" -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC \
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --enable-native-access=ALL-UNNAMED \
    -Dfile.encoding=UTF-8 -cp "$LIB/*" org.neo4j.server.CommunityEntryPoint \
    --home-dir="$HOME_DIR" --config-dir="$HOME_DIR/conf" \
    > "$HOME_DIR/logs/console.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  # Wait until Bolt answers; on a fresh store, replace the initial password.
  VEIL_NEO4J_URI="bolt://127.0.0.1:$PORT" VEIL_NEO4J_PASSWORD="$password" NEO4J_FRESH="$fresh" \
    NEO4J_PID="$(cat "$PIDFILE")" "$PY" "$ROOT/deploy/neo4j_ready.py" \
    || { echo "neo4j.sh: Neo4j did not become ready; last log lines:" >&2; tail -20 "$HOME_DIR/logs/neo4j.log" >&2 || true; stop; exit 1; }
  echo "neo4j.sh: ready (pid $(cat "$PIDFILE"))"
}

stop() {
  if ! is_running; then rm -f "$PIDFILE"; echo "neo4j.sh: instance '$INSTANCE' not running"; return 0; fi
  local pid; pid=$(cat "$PIDFILE")
  kill -TERM "$pid"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; echo "neo4j.sh: instance '$INSTANCE' stopped cleanly"; return 0; }
    sleep 0.5
  done
  echo "neo4j.sh: no clean shutdown after 60 s, killing pid $pid" >&2
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

case "$CMD" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if is_running; then echo "running (pid $(cat "$PIDFILE"), bolt://127.0.0.1:$PORT)"; else echo "stopped"; exit 3; fi ;;
  *) die "usage: $0 {fetch|start|stop|status} [dev|test]" ;;
esac
