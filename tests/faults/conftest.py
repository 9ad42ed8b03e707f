"""Prints the fault-injection table after the run (and writes it to .local/faults-report.md)."""

from pathlib import Path

import pytest

from tests.faults.harness import RESULTS

REPORT = Path(__file__).resolve().parents[2] / ".local" / "faults-report.md"


def seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "-"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    lines = [
        "| scenario | accepted | found | lost | duplicated | recovery | caught up |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in RESULTS:
        lines.append(
            f"| {r.scenario} | {r.accepted} | {r.found} | {r.lost} | {r.duplicated} "
            f"| {seconds(r.recovery_seconds)} | {seconds(r.catch_up_seconds)} |"
        )
    terminalreporter.section("fault injection")
    for line in lines:
        terminalreporter.write_line(line)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
