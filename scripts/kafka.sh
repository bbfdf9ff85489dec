#!/usr/bin/env bash
# A real Apache Kafka on this machine, for development and the integration tests: KRaft mode (no
# ZooKeeper), N combined broker+controller nodes, listening on 127.0.0.1 only, on free ports.
#
#   scripts/kafka.sh fetch                                   jars from Maven into .cache/kafka/<version>/libs
#   scripts/kafka.sh start [--dir DIR] [--brokers N]         format + start N nodes (default 1), wait until
#                                                            ready; prints the bootstrap servers (only stdout line)
#   scripts/kafka.sh stop [--dir DIR]                        stop every node (SIGTERM, then SIGKILL after a bound)
#   scripts/kafka.sh stop-node|start-node|kill-node [--dir DIR] --node I   one node (1..N); kill = SIGKILL
#   scripts/kafka.sh status [--dir DIR]                      exit 0 when every node runs, 3 otherwise
#   scripts/kafka.sh create-topic [--dir DIR] --topic T [--partitions P] [--replication R]
#   scripts/kafka.sh run-class CLASS [ARG...]                a Kafka tool class from the same jars, e.g.
#                                                            kafka.tools.DumpLogSegments --files ...
# DIR defaults to .cache/kafka/run. A cluster keeps its ports and data in DIR across stop/start:
# DIR/bootstrap holds "127.0.0.1:p1,127.0.0.1:p2,...", DIR/node-I/ holds server.properties,
# server.log (the broker log) and data/.
#
# Environment: KAFKA_HEAP_OPTS (default -Xms128m -Xmx512m per node), KAFKA_START_TIMEOUT_S (default 180),
# KAFKA_STOP_TIMEOUT_S (default 30: SIGTERM grace before SIGKILL), KAFKA_CDS=0 (no class-data archive),
# KAFKA_MVN_ARGS (extra Maven arguments for fetch, e.g. "-s my-settings.xml").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/scripts/kafka.sh"
pom="$root/scripts/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
cache="$root/.cache/kafka/$KAFKA_VERSION"
libs="$cache/libs"
start_timeout=${KAFKA_START_TIMEOUT_S:-180}
stop_timeout=${KAFKA_STOP_TIMEOUT_S:-30}
heap_opts=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}

log() { printf 'kafka: %s\n' "$*" >&2; }
die() { printf 'kafka: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ---------------------------------------------------------------------------------------------- fetch

ensure_java_maven() {
  local missing=()
  command -v java >/dev/null || missing+=(default-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

fetch() {
  fetch_jars
  # The archive is made by starting a broker, which calls fetch again: that inner call must not recurse.
  [ -n "${KAFKA_CDS_DUMP:-}" ] || prepare_class_archive
}

fetch_jars() {
  local stamp="$cache/.fetched" want
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$libs" ]; then return; fi
  ensure_java_maven
  mkdir -p "$cache"
  # Parallel test runs may fetch at once: one fetches, the others wait and then find the stamp.
  exec 8>"$cache/.fetch.lock"
  flock -w 600 8 || die "timed out waiting for another fetch of Kafka jars ($cache/.fetch.lock)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$libs" ]; then exec 8>&-; return; fi
  log "fetching Apache Kafka $KAFKA_VERSION jars with Maven into $libs"
  local tmp="$cache/libs.tmp" flog="$cache/fetch.log" attempt
  for attempt in 1 2; do
    rm -rf "$tmp"
    # shellcheck disable=SC2086
    if mvn -B -q ${KAFKA_MVN_ARGS:-} -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$tmp" >"$flog" 2>&1; then
      break
    fi
    if [ "$attempt" = 1 ]; then
      log "Maven failed (see $flog); retrying once in 5 s"
      sleep 5
    else
      tail -20 "$flog" >&2
      rm -rf "$tmp"
      die "could not fetch the Apache Kafka jars with Maven: check the network and the Maven registry settings (~/.m2/settings.xml), then run scripts/kafka.sh fetch again (full log: $flog)"
    fi
  done
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing from $tmp (see $flog)"
  rm -rf "$libs"
  mv "$tmp" "$libs"
  echo "$want" >"$stamp"
  exec 8>&-
}

# A JVM spends most of a broker's start-up loading and verifying classes; an AppCDS archive of the
# classes a broker loads (made once, by one throwaway broker) halves that CPU time, which matters
# when tests start several nodes on a small machine. The archive is tied to the jars' path and the
# JDK; a JVM that cannot use it warns in stdout.log and starts without it. KAFKA_CDS=0 disables it.
cds_archive="$cache/broker.jsa"
cds_key() {
  local jvm
  jvm=$(readlink -f "$(command -v java)")
  echo "$(sha256sum "$pom" | cut -d' ' -f1) $libs $jvm $(stat -c %Y "$jvm")"
}

prepare_class_archive() {
  [ "${KAFKA_CDS:-1}" = 0 ] && return 0
  local stamp="$cache/.cds" key
  key=$(cds_key)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then return 0; fi
  exec 7>"$cache/.cds.lock"
  flock -w 600 7 || { log "another process is preparing $cds_archive; starting without it"; exec 7>&-; return 0; }
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then exec 7>&-; return 0; fi
  log "preparing a class-data archive so that brokers start faster (once, about 20 s)"
  local tmpd tmp="$cds_archive.tmp" clog="$cache/cds.log"
  tmpd=$(mktemp -d)
  rm -f "$cds_archive" "$tmp"
  if KAFKA_CDS_DUMP="$tmp" "$self" start --dir "$tmpd" >/dev/null 2>"$clog" &&
      KAFKA_CDS_DUMP="$tmp" "$self" stop --dir "$tmpd" 2>>"$clog" && [ -s "$tmp" ] &&
      java -Xshare:on -XX:SharedArchiveFile="$tmp" -cp "$libs/*" -version >>"$clog" 2>&1; then
    mv "$tmp" "$cds_archive"
  else
    log "could not prepare the class-data archive; brokers start without it (see $clog)"
    rm -f "$tmp"
  fi
  # Also after a failure: not worth retrying on every start.
  echo "$key" >"$stamp"
  "$self" stop --dir "$tmpd" >/dev/null 2>&1 || true
  rm -rf "$tmpd"
  exec 7>&-
}

# Runs a Kafka class with the fetched jars. Tools log warnings to stderr; stdout is the tool's own.
run_class() {
  fetch
  local cls=$1; shift
  # Tools are short-lived: a small heap and the C1 compiler start fastest.
  exec java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$root/scripts/kafka/tools-log4j.properties" \
    -cp "$libs/*" "$cls" "$@"
}

# ---------------------------------------------------------------------------------------- cluster state

# Loads DIR/cluster.env: NODES, CLUSTER_ID, BROKER_PORTS, CONTROLLER_PORTS (space-separated, node order).
load_cluster() {
  [ -f "$dir/cluster.env" ] || { log "no Kafka cluster in $dir (run: scripts/kafka.sh start --dir $dir)"; return 1; }
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
  read -r -a broker_ports <<<"$BROKER_PORTS"
  read -r -a controller_ports <<<"$CONTROLLER_PORTS"
}

node_dir() { echo "$dir/node-$1"; }

# PID of node I if it is running (and really is that node's JVM), else nothing.
node_pid() {
  local nd pid
  nd=$(node_dir "$1")
  [ -f "$nd/pid" ] || return 0
  pid=$(cat "$nd/pid")
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$nd/server.properties"; then
    echo "$pid"
  fi
}

bootstrap_string() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do out+="${out:+,}127.0.0.1:${broker_ports[i - 1]}"; done
  echo "$out"
}

port_free() {  # port_free PORT: true when nothing listens on 127.0.0.1:PORT and we can bind it
  if command -v python3 >/dev/null; then
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
# As the JVM does: a port whose old connections linger in TIME_WAIT can be listened on again.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
  else
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# Prints COUNT distinct free ports below the kernel's ephemeral range (so a client's outgoing
# connection cannot grab a node's port while that node is stopped).
pick_ports() {
  local count=$1 lo=20000 hi=32000 picked=() p tries=0
  read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_lo=32768
  [ "$eph_lo" -gt 21000 ] && hi=$((eph_lo - 1))
  while [ ${#picked[@]} -lt "$count" ]; do
    tries=$((tries + 1))
    [ $tries -gt 500 ] && die "could not find $count free TCP ports on 127.0.0.1"
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
    [[ " ${picked[*]} " == *" $p "* ]] && continue
    port_free "$p" && picked+=("$p")
  done
  echo "${picked[@]}"
}

# Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding; the tools refuse ids
# that start with '-'.
new_cluster_id() {
  local id
  while :; do
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [ "${id:0:1}" != "-" ] && { echo "$id"; return; }
  done
}

write_node_config() {  # write_node_config I
  local i=$1 nd voters="" j rf isr
  nd=$(node_dir "$i")
  for ((j = 1; j <= NODES; j++)); do voters+="${voters:+,}$j@127.0.0.1:${controller_ports[j - 1]}"; done
  rf=$((NODES < 3 ? NODES : 3))
  isr=$((NODES < 2 ? NODES : 2))
  mkdir -p "$nd/data"
  cat >"$nd/server.properties" <<EOF
# Written by scripts/kafka.sh: node $i of $NODES, combined broker and KRaft controller, loopback only.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${broker_ports[i - 1]},CONTROLLER://127.0.0.1:${controller_ports[i - 1]}
advertised.listeners=PLAINTEXT://127.0.0.1:${broker_ports[i - 1]}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$nd/data

# Tests create their topics explicitly; a typo must fail instead of creating a topic.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0

# A small machine: few threads. A killed node is fenced (and leaves every ISR) after 6 s.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
EOF
  cat >"$nd/log4j.properties" <<EOF
# Written by scripts/kafka.sh: everything to one file per node.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$nd/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.state.change.logger=WARN
EOF
}

format_node() {  # format_node I: writes meta.properties once; a node that has data keeps it
  local nd
  nd=$(node_dir "$1")
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j.configuration="file:$root/scripts/kafka/tools-log4j.properties" -cp "$libs/*" \
    kafka.tools.StorageTool format --ignore-formatted -t "$CLUSTER_ID" -c "$nd/server.properties" \
    >"$nd/format.log" 2>&1 || { cat "$nd/format.log" >&2; die "formatting storage of node $1 failed"; }
}

launch_node() {  # launch_node I: starts the JVM in the background; does not wait
  local i=$1 nd port
  nd=$(node_dir "$i")
  [ -n "$(node_pid "$i")" ] && return
  for port in "${broker_ports[i - 1]}" "${controller_ports[i - 1]}"; do
    port_free "$port" || die "node $i cannot start: port 127.0.0.1:$port is in use by another process"
  done
  # Remember where this start's log begins, so readiness looks only at new lines.
  [ -f "$nd/server.log" ] && wc -c <"$nd/server.log" >"$nd/log.offset" || echo 0 >"$nd/log.offset"
  local cds_opts=()
  if [ -n "${KAFKA_CDS_DUMP:-}" ]; then
    cds_opts=(-XX:ArchiveClassesAtExit="$KAFKA_CDS_DUMP")
  elif [ -f "$cds_archive" ]; then
    cds_opts=(-XX:SharedArchiveFile="$cds_archive")
  fi
  # shellcheck disable=SC2086
  nohup java $heap_opts "${cds_opts[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$nd/log4j.properties" -Dkafka.logs.dir="$nd" \
    -cp "$libs/*" kafka.Kafka "$nd/server.properties" </dev/null >"$nd/stdout.log" 2>&1 7>&- 8>&- 9>&- &
  echo $! >"$nd/pid"
}

node_started() {  # node_started I: the node logged "Kafka Server started" since its last launch
  local nd off
  nd=$(node_dir "$1")
  off=$(cat "$nd/log.offset" 2>/dev/null || echo 0)
  [ -f "$nd/server.log" ] && tail -c +"$((off + 1))" "$nd/server.log" | grep -q 'Kafka Server started'
}

# How many brokers node I's own metadata lists (unfenced ones), or nothing if it does not answer.
metadata_brokers() {
  kcat -L -b "127.0.0.1:${broker_ports[$1 - 1]}" -m 3 2>/dev/null | sed -n 's/^ *\([0-9]\+\) brokers:.*/\1/p' | head -1
}

print_log_tail() {
  local i=$1 nd
  nd=$(node_dir "$i")
  log "---- node $i: last lines of $nd/server.log"
  tail -n 30 "$nd/server.log" 2>/dev/null | sed 's/^/    /' >&2 || true
  if [ -s "$nd/stdout.log" ]; then
    log "---- node $i: $nd/stdout.log"
    tail -n 15 "$nd/stdout.log" | sed 's/^/    /' >&2
  fi
}

# wait_ready NODE...: until every given node logged its start and metadata lists every running node.
wait_ready() {
  local deadline=$((SECONDS + start_timeout)) i all want
  while :; do
    all=1
    for i in "$@"; do
      # The recorded pid, not node_pid: right after the fork, the child may not have become java yet.
      if ! alive "$(cat "$(node_dir "$i")/pid" 2>/dev/null)"; then
        log "node $i exited during start-up"
        print_log_tail "$i"
        return 1
      fi
      node_started "$i" || all=0
    done
    # Every starting node must also see every running node in its own metadata, so a client that
    # bootstraps from any of them gets the whole cluster. (Without kcat, the log line must do.)
    if [ $all = 1 ] && command -v kcat >/dev/null; then
      want=$(running_nodes)
      for i in "$@"; do [ "$(metadata_brokers "$i")" = "$want" ] || all=0; done
    fi
    [ $all = 1 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      log "Kafka did not become ready within ${start_timeout} s"
      for i in "$@"; do print_log_tail "$i"; done
      return 1
    fi
    sleep 0.5
  done
}

# True while PID exists and is not a zombie (nodes launched by this invocation are our children).
alive() {
  local state
  state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

running_nodes() {
  local i n=0
  for ((i = 1; i <= NODES; i++)); do [ -n "$(node_pid "$i")" ] && alive "$(node_pid "$i")" && n=$((n + 1)); done
  echo "$n"
}

# stop_nodes SIGNAL NODE...: signals the nodes together, waits for them, SIGKILLs stragglers.
# A broker shuts down cleanly only with the consent of the active controller, which needs a majority
# of the controllers running. Once too few run (because the other nodes already finished stopping,
# or were killed before), a node still waiting for that consent would wait for minutes: it gets
# SIGKILL. Kafka recovers such a node's logs on its next start.
stop_nodes() {
  local sig=$1; shift
  local i pid pids=() left deadline lost_at="" warned=0 targets=0
  for i in "$@"; do [ -n "$(node_pid "$i")" ] && targets=$((targets + 1)); done
  if [ "$sig" = TERM ] && [ $targets -gt 0 ] && [ $((2 * $(running_nodes))) -le "$NODES" ]; then
    log "only $(running_nodes) of $NODES nodes run, too few for a controller quorum: stopping with SIGKILL"
    sig=KILL
  fi
  for i in "$@"; do
    pid=$(node_pid "$i")
    if [ -n "$pid" ]; then kill "-$sig" "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done
  deadline=$((SECONDS + stop_timeout))
  while :; do
    left=()
    for pid in "${pids[@]}"; do alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && break
    if [ "$sig" = TERM ] && [ -z "$lost_at" ] && [ $((2 * $(running_nodes))) -le "$NODES" ]; then
      lost_at=$SECONDS
    fi
    # A few seconds' grace: a node past its broker shutdown is only closing files.
    if { [ -n "$lost_at" ] && [ $((SECONDS - lost_at)) -ge 3 ]; } || [ $SECONDS -ge $deadline ]; then
      if [ $warned = 0 ]; then
        if [ $SECONDS -ge $deadline ]; then
          log "process(es) ${left[*]} did not stop within ${stop_timeout} s; sending SIGKILL"
        else
          log "controller quorum gone while process(es) ${left[*]} still shut down; sending SIGKILL"
        fi
        warned=1
      fi
      kill -KILL "${left[@]}" 2>/dev/null || true
    fi
    sleep 0.2
  done
  for i in "$@"; do rm -f "$(node_dir "$i")/pid"; done
}

stop_watchdog() {
  local pid
  [ -f "$dir/watchdog.pid" ] || return 0
  pid=$(cat "$dir/watchdog.pid")
  rm -f "$dir/watchdog.pid"
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "__watchdog"; then
    kill "$pid" 2>/dev/null || true
  fi
}

# When the owner process dies (e.g. a test that crashed), stop the cluster instead of leaking JVMs.
start_watchdog() {
  stop_watchdog
  nohup "$self" __watchdog "$1" "$dir" </dev/null >>"$dir/watchdog.log" 2>&1 7>&- 8>&- 9>&- &
  echo $! >"$dir/watchdog.pid"
}

watchdog() {  # watchdog OWNER_PID DIR
  while kill -0 "$1" 2>/dev/null; do sleep 1; done
  rm -f "$2/watchdog.pid"
  log "owner process $1 is gone; stopping the cluster in $2"
  exec "$self" stop --dir "$2"
}

all_nodes() { seq 1 "$NODES"; }

# -------------------------------------------------------------------------------------------- commands

cmd_start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  fetch
  if [ -f "$dir/cluster.env" ]; then
    load_cluster
    if [ -n "$nodes_arg" ] && [ "$nodes_arg" != "$NODES" ]; then
      log "$dir already holds a $NODES-node cluster; stop it and remove $dir to make a $nodes_arg-node one"
      exit 2
    fi
  else
    NODES=${nodes_arg:-1}
    [[ "$NODES" =~ ^[1-9]$ ]] || { log "--brokers must be 1..9, got '$NODES'"; exit 2; }
    CLUSTER_ID=$(new_cluster_id)
    local ports
    read -r -a ports <<<"$(pick_ports $((2 * NODES)))"
    broker_ports=("${ports[@]:0:NODES}")
    controller_ports=("${ports[@]:NODES}")
    local i
    for ((i = 1; i <= NODES; i++)); do write_node_config "$i"; done
    local pids=() pid ok=1
    for ((i = 1; i <= NODES; i++)); do format_node "$i" & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid" || ok=0; done
    [ $ok = 1 ] || die "formatting storage failed"
    printf 'NODES=%s\nCLUSTER_ID=%s\nBROKER_PORTS="%s"\nCONTROLLER_PORTS="%s"\nKAFKA_VERSION=%s\n' \
      "$NODES" "$CLUSTER_ID" "${broker_ports[*]}" "${controller_ports[*]}" "$KAFKA_VERSION" >"$dir/cluster.env"
  fi
  bootstrap_string >"$dir/bootstrap"
  local n
  for n in $(all_nodes); do launch_node "$n"; done
  # shellcheck disable=SC2046
  if ! wait_ready $(all_nodes); then
    # shellcheck disable=SC2046
    stop_nodes KILL $(all_nodes)
    die "Kafka in $dir failed to start (logs: $dir/node-*/server.log)"
  fi
  [ -n "$watch_pid" ] && start_watchdog "$watch_pid"
  bootstrap_string
  if [ "$dir_defaulted" = 1 ]; then
    log "Kafka $KAFKA_VERSION is running ($NODES node(s), data in $dir). Point smartcity at it with:"
    log "  export KAFKA_BOOTSTRAP_SERVERS=$(bootstrap_string)"
    log "Stop it with: scripts/kafka.sh stop"
  fi
}

cmd_stop() {
  load_cluster || return 0
  stop_watchdog
  # shellcheck disable=SC2046
  stop_nodes TERM $(all_nodes)
}

check_node() {
  [[ "$node" =~ ^[0-9]+$ ]] && [ "$node" -ge 1 ] && [ "$node" -le "$NODES" ] ||
    { log "--node must be 1..$NODES, got '$node'"; exit 2; }
}

cmd_node() {  # cmd_node start|stop|kill
  load_cluster || exit 1
  check_node
  case "$1" in
    stop) stop_nodes TERM "$node" ;;
    kill) stop_nodes KILL "$node" ;;
    start)
      launch_node "$node"
      if ! wait_ready "$node"; then
        stop_nodes KILL "$node"
        die "node $node failed to start (log: $(node_dir "$node")/server.log)"
      fi ;;
  esac
}

cmd_status() {
  load_cluster || exit 3
  local i pid up=0
  echo "cluster $CLUSTER_ID in $dir: bootstrap $(bootstrap_string)"
  for ((i = 1; i <= NODES; i++)); do
    pid=$(node_pid "$i")
    if [ -n "$pid" ]; then
      up=$((up + 1))
      echo "node $i: running (pid $pid) broker 127.0.0.1:${broker_ports[i - 1]} controller 127.0.0.1:${controller_ports[i - 1]}"
    else
      echo "node $i: stopped"
    fi
  done
  [ "$up" = "$NODES" ] || exit 3
}

cmd_create_topic() {
  load_cluster || exit 1
  [ -n "$topic" ] || { log "create-topic needs --topic NAME"; exit 2; }
  local rf=${replication:-$((NODES < 3 ? NODES : 3))}
  ( run_class org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_string)" --create \
      --if-not-exists --topic "$topic" --partitions "${partitions:-1}" --replication-factor "$rf" ) >&2
}

# ---------------------------------------------------------------------------------------------- main

[ $# -ge 1 ] || usage
command=$1; shift
case "$command" in
  run-class) [ $# -ge 1 ] || usage; run_class "$@" ;;
  __watchdog) watchdog "$@" ;;
esac

dir="" nodes_arg="" node="" topic="" partitions="" replication="" watch_pid="" dir_defaulted=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --brokers) nodes_arg=${2:?--brokers needs a value}; shift 2 ;;
    --node) node=${2:?--node needs a value}; shift 2 ;;
    --topic) topic=${2:?--topic needs a value}; shift 2 ;;
    --partitions) partitions=${2:?--partitions needs a value}; shift 2 ;;
    --replication) replication=${2:?--replication needs a value}; shift 2 ;;
    --watch-pid) watch_pid=${2:?--watch-pid needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) log "unknown option '$1'"; usage ;;
  esac
done
if [ -z "$dir" ]; then dir="$root/.cache/kafka/run"; dir_defaulted=1; fi

# One command at a time per cluster directory.
if [ "$command" = start ] || { [ "$command" != fetch ] && [ -d "$dir" ]; }; then
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock -w 300 9 || die "another scripts/kafka.sh command holds $dir/.lock"
fi

case "$command" in
  fetch) fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  stop-node) cmd_node stop ;;
  start-node) cmd_node start ;;
  kill-node) cmd_node kill ;;
  status) cmd_status ;;
  create-topic) cmd_create_topic ;;
  *) log "unknown command '$command'"; usage ;;
esac
