#!/usr/bin/env bash
# Make sure a Docker engine answers and the compose v2 and buildx plugins are installed.
# With no engine, as root: Debian's docker.io, dockerd started in the background (log:
# /var/log/dockerd.log). The plugins are not packaged: they are built once from the Go module
# proxy into ~/.docker/cli-plugins (2 minutes and 1 minute on a 2-core machine), then reused.
set -euo pipefail
COMPOSE_VERSION=v2.40.3
BUILDX_VERSION=v0.29.1
PLUGINS="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

die() { echo "engine.sh: $*" >&2; exit 1; }
took() { echo "engine.sh: $1 in $((SECONDS - $2)) s"; }

ensure_engine() {
  docker info >/dev/null 2>&1 && return
  [[ $EUID -eq 0 ]] || die "no Docker engine answers; run as root to install and start one"
  local t0=$SECONDS
  if ! command -v dockerd >/dev/null; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
    took "docker.io installed" "$t0"
    # Under systemd the package starts the engine itself.
    docker info >/dev/null 2>&1 && return
  fi
  command -v docker >/dev/null || die "dockerd is installed but the docker CLI is not"
  setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && { took "engine started" "$t0"; return; }; sleep 1; done
  die "dockerd did not answer within 60 s (see /var/log/dockerd.log)"
}

# build_plugin NAME PACKAGE VERSION VERSION_VARIABLE: `go install` refuses these modules
# (exclude directives), so build them inside a throwaway module. The version is linked in:
# compose refuses a buildx that does not say it is 0.17 or later.
build_plugin() {
  local name=$1 package=$2 version=$3 variable=$4 t0=$SECONDS work
  docker "$name" version 2>/dev/null | grep -q "$version" && return
  command -v go >/dev/null || die "go (1.22+) is needed once to build the $name plugin"
  work="$(mktemp -d)"
  (cd "$work" && go mod init plugin >/dev/null 2>&1 && go get "$package@$version" >/dev/null 2>&1 &&
    go build -ldflags "-X $variable=$version" -o "$PLUGINS/docker-$name.partial" "$package") || die "building docker-$name failed"
  mv "$PLUGINS/docker-$name.partial" "$PLUGINS/docker-$name"
  rm -rf "$work"
  took "docker-$name plugin built" "$t0"
}

ensure_engine
mkdir -p "$PLUGINS"
build_plugin compose github.com/docker/compose/v2/cmd "$COMPOSE_VERSION" \
  github.com/docker/compose/v2/internal.Version
build_plugin buildx github.com/docker/buildx/cmd/buildx "$BUILDX_VERSION" \
  github.com/docker/buildx/version.Version
docker compose version >/dev/null || die "docker compose does not run"
