"""The Dockerfile, checked against the rules operators expect (it cannot be built here)."""

import re

from devsupport.infra import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
STAGES = re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[1:]
FINAL = STAGES[-1]


def instructions(stage: str, keyword: str) -> list[str]:
    return re.findall(rf"^{keyword} (.+)$", stage, flags=re.MULTILINE)


def test_build_is_multi_stage() -> None:
    assert len(STAGES) >= 2


def test_base_image_is_slim_python_pinned_to_a_patch_version() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+\.\d+-slim-\w+$", DOCKERFILE, re.MULTILINE)
    assert all(stage.startswith("${PYTHON_IMAGE}") for stage in STAGES)


def test_dependencies_come_from_the_lock_file() -> None:
    syncs = instructions(STAGES[0], "RUN") + re.findall(r"uv sync[^\n]*", STAGES[0])
    assert syncs
    assert all("--frozen" in line for line in re.findall(r"uv sync[^\n]*", DOCKERFILE))
    assert "COPY pyproject.toml uv.lock ./" in STAGES[0]


def test_final_stage_runs_as_a_non_root_user() -> None:
    [user] = instructions(FINAL, "USER")
    assert user.split(":")[0] not in {"root", "0"}


def test_final_stage_has_no_build_tools() -> None:
    assert "uv" not in " ".join(instructions(FINAL, "COPY")).replace("/app/.venv", "")
    assert not re.search(r"apt-get install|gcc|build-essential|pip install", FINAL)


def test_final_stage_has_a_healthcheck_and_stops_on_sigterm() -> None:
    assert "/healthz" in " ".join([*instructions(FINAL, "HEALTHCHECK"), FINAL])
    assert instructions(FINAL, "STOPSIGNAL") == ["SIGTERM"]


def test_image_serves_by_default_and_migrates_on_request() -> None:
    assert instructions(FINAL, "CMD") == ['["serve"]']


def test_dockerignore_keeps_local_state_out_of_the_build() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".local", ".venv"} <= set(ignored)
