"""Offline validation and load tools, installed once into .local/tools with Go (1.22+):
kustomize (builds deploy/k8s), vegeta (a constant-rate load generator for `make bench`; wrk is
closed-loop), toxiproxy's server (a latency proxy before PostgreSQL, for `make bench`) and the
Compose specification's JSON schema (from the compose-go module). The Kubernetes JSON schemas
come from the kubernetes-validate package (uv.lock)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from deploy.local.config import RunnerError, say

PROGRAMS = {
    "kustomize": "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1",
    "vegeta": "github.com/tsenart/vegeta/v12@v12.12.0",
    "toxiproxy-server": "github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0",
}
COMPOSE_GO = "github.com/compose-spec/compose-go/v2@v2.16.2"


def install_tools(local: Path) -> None:
    tools = local / "tools"
    (tools / "bin").mkdir(parents=True, exist_ok=True)
    for name, module in PROGRAMS.items():
        if not (tools / "bin" / name).exists():
            say("tools", f"installing {module}")
            # go install names a program after its package (toxiproxy's is cmd/server): it
            # goes to a folder of its own, then to bin under the name it is known by.
            staging = tools / "staging"
            go("install", module, environment={"GOBIN": str(staging), "GOFLAGS": "-mod=mod"})
            (staging / installed_name(module)).rename(tools / "bin" / name)
    schema = tools / "compose-spec.json"
    if not schema.exists():
        say("tools", f"fetching the compose-spec schema ({COMPOSE_GO})")
        # Run where no go.mod is, so the download adds nothing to any module.
        downloaded = json.loads(go("mod", "download", "-json", COMPOSE_GO, cwd=tools))
        shutil.copyfile(Path(downloaded["Dir"]) / "schema" / "compose-spec.json", schema)


def installed_name(module: str) -> str:
    """The file `go install` makes: the package's last element, or the one before a major
    version suffix (kustomize/v5 -> kustomize)."""
    elements = module.split("@")[0].split("/")
    return elements[-2] if re.fullmatch(r"v[0-9]+", elements[-1]) else elements[-1]


def go(*arguments: str, environment: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """``go ...``'s output; its errors as a RunnerError."""
    if not shutil.which("go"):
        raise RunnerError("tools: Go 1.22+ is needed to install kustomize, vegeta and the schema")
    done = subprocess.run(
        ["go", *arguments],
        env={**os.environ, **(environment or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RunnerError(f"tools: go {' '.join(arguments)} failed:\n{done.stderr}")
    return done.stdout
