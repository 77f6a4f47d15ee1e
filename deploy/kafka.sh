#!/usr/bin/env bash
# Local Apache Kafka 4.x (KRaft, single node) without Docker, for the durable log's Kafka backend:
# fetched from Maven Central with Maven, run as a real broker process on 127.0.0.1, data under var/.
#
#   deploy/kafka.sh fetch            download the jars into var/kafka/libs (once, about 45 MB)
#   deploy/kafka.sh start [INSTANCE] format (first time) and start; wait until the broker answers
#   deploy/kafka.sh stop  [INSTANCE] SIGTERM, wait for a clean shutdown
#   deploy/kafka.sh status [INSTANCE]
#
# Ports: VEIL_KAFKA_PORT (broker, default 9092) and VEIL_KAFKA_CONTROLLER_PORT (default 9093).
# Heap: VEIL_KAFKA_HEAP (default 512m). One node means replication factor 1: durability then covers
# a process kill, not a lost disk; production uses 3 brokers (docker-compose profile "kafka").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$ROOT/var/kafka/libs"
CMD="${1:-status}"
INSTANCE="${2:-test}"
PORT="${VEIL_KAFKA_PORT:-9092}"
CPORT="${VEIL_KAFKA_CONTROLLER_PORT:-9093}"
HOME_DIR="$ROOT/var/kafka/$INSTANCE"
PIDFILE="$HOME_DIR/kafka.pid"
HEAP="${VEIL_KAFKA_HEAP:-512m}"

die() { echo "kafka.sh: $*" >&2; exit 1; }

java_bin() {
  local j="java"
  [ -n "${JAVA_HOME:-}" ] && j="$JAVA_HOME/bin/java"
  command -v "$j" >/dev/null 2>&1 || die "Java 17+ is required (no 'java' on PATH). Install OpenJDK 17."
  local v
  v=$("$j" -version 2>&1 | awk -F'"' '/version/ {print $2}' | cut -d. -f1)
  [ "${v:-0}" -ge 17 ] 2>/dev/null || die "Java 17+ is required, found version '${v:-unknown}' ($j)."
  echo "$j"
}

fetch() {
  if [ -f "$LIB/.complete" ]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || die "Maven is required to fetch Kafka (no 'mvn' on PATH)."
  java_bin >/dev/null
  echo "kafka.sh: fetching Apache Kafka $(grep -o '<kafka.version>[^<]*' "$ROOT/deploy/kafka/pom.xml" | cut -d'>' -f2) from Maven Central (once)..."
  mkdir -p "$LIB"
  mvn -B -q -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIB" -DincludeScope=runtime \
    || die "Maven could not fetch org.apache.kafka:kafka_2.13 (see the output above)."
  touch "$LIB/.complete"
}

is_running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

answers() {
  "${PYTHON:-python3}" - "$PORT" <<'PY'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

write_conf() {
  mkdir -p "$HOME_DIR/data" "$HOME_DIR/logs"
  cat > "$HOME_DIR/server.properties" <<CONF
# Written by deploy/kafka.sh for instance '$INSTANCE': one KRaft node, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$HOME_DIR/data
num.partitions=4
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
CONF
  cat > "$HOME_DIR/log4j2.properties" <<CONF
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = $HOME_DIR/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
CONF
}

start() {
  fetch
  if is_running; then echo "kafka.sh: $INSTANCE already running (pid $(cat "$PIDFILE"))"; return 0; fi
  local j; j=$(java_bin)
  write_conf
  if [ ! -f "$HOME_DIR/data/meta.properties" ]; then
    local id; id=$("$j" -cp "$LIB/*" kafka.tools.StorageTool random-uuid)
    "$j" -cp "$LIB/*" -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" kafka.tools.StorageTool \
      format -t "$id" -c "$HOME_DIR/server.properties" >/dev/null || die "formatting the log directory failed"
  fi
  nohup "$j" -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" \
    -cp "$LIB/*" kafka.Kafka "$HOME_DIR/server.properties" > "$HOME_DIR/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 240); do
    if answers; then echo "kafka.sh: $INSTANCE ready on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"; return 0; fi
    is_running || { tail -20 "$HOME_DIR/logs/stdout.log" "$HOME_DIR/logs/server.log" 2>/dev/null; die "the broker exited"; }
    sleep 0.5
  done
  die "the broker did not answer on 127.0.0.1:$PORT within 120 s (see $HOME_DIR/logs/)"
}

stop() {
  if ! is_running; then echo "kafka.sh: $INSTANCE not running"; rm -f "$PIDFILE"; return 0; fi
  local pid; pid=$(cat "$PIDFILE")
  kill -TERM "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; echo "kafka.sh: $INSTANCE stopped"; return 0; }; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  echo "kafka.sh: $INSTANCE killed after 60 s"
}

case "$CMD" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if is_running && answers; then echo "kafka.sh: $INSTANCE running on 127.0.0.1:$PORT"; else echo "kafka.sh: $INSTANCE not running"; exit 1; fi ;;
  *) die "usage: deploy/kafka.sh {fetch|start|stop|status} [INSTANCE]" ;;
esac
