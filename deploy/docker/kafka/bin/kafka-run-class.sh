#!/bin/sh
# java with the broker's jars; tools get a small heap and log only errors.
exec java ${KAFKA_TOOLS_HEAP_OPTS:--Xmx128M} -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
  -cp '/opt/kafka/libs/*' "$@"
