#!/usr/bin/env bash
# Offline validation tools for the deployment files, installed once into .local/tools:
#   kustomize      builds deploy/k8s (the real one, from the Go module proxy)
#   compose-spec   the Compose specification's JSON schema, from the compose-go module
#   vegeta         a constant-rate HTTP load generator for `make bench` (wrk is closed-loop)
# Kubernetes JSON schemas come from the kubernetes-validate package (uv.lock).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

KUSTOMIZE_VERSION=v5.7.1
COMPOSE_GO_VERSION=v2.16.2
VEGETA_VERSION=v12.12.0
TOOLS=.local/tools
mkdir -p "$TOOLS/bin"

command -v go >/dev/null || {
  echo "tools: Go is needed to install kustomize, vegeta and the compose schema (Go 1.22 or newer)" >&2
  exit 1
}

if [[ ! -x "$TOOLS/bin/kustomize" ]]; then
  echo "tools: installing kustomize $KUSTOMIZE_VERSION"
  GOBIN="$PWD/$TOOLS/bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

if [[ ! -x "$TOOLS/bin/vegeta" ]]; then
  echo "tools: installing vegeta $VEGETA_VERSION"
  GOBIN="$PWD/$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
fi

if [[ ! -f "$TOOLS/compose-spec.json" ]]; then
  echo "tools: fetching the compose-spec schema (compose-go $COMPOSE_GO_VERSION)"
  module_dir="$(cd "$TOOLS" && go mod download -json "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  cp "$module_dir/schema/compose-spec.json" "$TOOLS/compose-spec.json"
fi
