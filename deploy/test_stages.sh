#!/usr/bin/env bash
# `make test`: every test, stage by stage, with each stage's time at the end. Lint; the tests that
# need no infrastructure (`make test-unit`); the native run
# (Kafka, PostgreSQL, SMTP, Chromium and nginx on this machine: `make test-native`); then Docker
# (engine and plugins installed when missing, as root): the compose stack end to end and the
# testcontainers subset; then Kubernetes: a single-node cluster built here, the test overlay on
# it, its tests, and the cluster taken down. Each stage installs and starts what it needs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
times=()
stage() {
  local name=$1 started=$SECONDS
  shift
  echo "== stage: $name"
  "$@"
  times+=("$(printf '%-26s %5d s' "$name" $((SECONDS - started)))")
  echo "== stage: $name done in $((SECONDS - started)) s"
}
# The compose test takes the stack down itself, the kubernetes stage its cluster; after a
# failure, this does (and stops a cluster build still running). The native infrastructure
# (Kafka, PostgreSQL, the SMTP sink) is stopped at the end either way: a run leaves nothing
# listening on the ports the next clone's run needs.
# (The build has ended by then on success, so its kill may fail: that must not fail the run.)
cleanup() {
  if [[ -n ${cluster_build:-} ]]; then kill -- -"$cluster_build" 2>/dev/null || true; fi
  make --no-print-directory -k compose-down k8s-down down >/dev/null 2>&1 || true
}
trap cleanup EXIT
# The cluster's Go builds (an hour of CPU from empty caches, a minute from warm ones) run beside
# the native and compose stages at the lowest CPU priority: the tests keep the cores they use.
build_log=.local/logs/cluster-build.log
start_cluster_build() {
  mkdir -p .local/logs
  setsid nice -n 19 make --no-print-directory k8s-build >"$build_log" 2>&1 &
  cluster_build=$!
}
kubernetes() {
  local status=0
  wait "$cluster_build" || { tail -n 40 "$build_log"; return 1; }
  cat "$build_log"
  make --no-print-directory k8s-up && make --no-print-directory k8s-test || status=$?
  make --no-print-directory k8s-down
  return "$status"
}

stage "lint" make --no-print-directory lint
stage "unit tests" make --no-print-directory test-unit
start_cluster_build
stage "native tests" make --no-print-directory test-native
stage "compose up (engine, images)" make --no-print-directory compose-up
stage "compose end to end" make --no-print-directory compose-test
stage "testcontainers subset" make --no-print-directory test-containers
stage "kubernetes" kubernetes
printf '%s\n' "== stage times" "${times[@]}" "$(printf '%-26s %5d s' total "$SECONDS")"
