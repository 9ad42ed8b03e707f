#!/bin/bash
# Like the official image: every KAFKA_<NAME> variable becomes a server.properties entry
# (_ -> ., __ -> _, ___ -> -), the storage is formatted once with CLUSTER_ID, the broker runs
# in the foreground as PID 1.
set -euo pipefail
config=/opt/kafka/config/server.properties
not_properties=" KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_LOG_LEVEL KAFKA_TOOLS_HEAP_OPTS "
: >"$config"
for variable in $(compgen -e); do
  [[ $variable == KAFKA_* && $not_properties != *" $variable "* ]] || continue
  key="$(sed -e 's/___/-/g; s/__/@/g; s/_/./g; s/@/_/g' <<<"${variable#KAFKA_}" | tr '[:upper:]' '[:lower:]')"
  printf '%s=%s\n' "$key" "${!variable}" >>"$config"
done
grep -q '^log.dirs=' "$config" || echo "log.dirs=/var/lib/kafka/data" >>"$config"
kafka-storage.sh format --ignore-formatted -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$config"
exec java ${KAFKA_HEAP_OPTS:--Xmx512M -Xms512M} ${KAFKA_OPTS:-} -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  -cp '/opt/kafka/libs/*' kafka.Kafka "$config"
