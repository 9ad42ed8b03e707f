"""The one table `make bench` prints: every figure beside its baseline, the ratio and the goal."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal


@dataclass(frozen=True)
class Goal:
    """``ratio_at_least`` of the baseline, or ``at_least``/``at_most`` an absolute value."""

    kind: Literal["ratio_at_least", "at_least", "at_most"]
    threshold: float

    def describe(self, unit: str) -> str:
        if self.kind == "ratio_at_least":
            return f"≥ {self.threshold:g}x baseline"
        if self.kind == "at_least":
            return f"≥ {self.threshold:,g} {unit}"
        return f"≤ {self.threshold:,g} {unit}"

    def met(self, value: float, baseline: float | None) -> bool:
        if self.kind == "ratio_at_least":
            return baseline is not None and value >= self.threshold * baseline
        if self.kind == "at_least":
            return value >= self.threshold
        return value <= self.threshold


@dataclass(frozen=True)
class Row:
    measure: str
    value: float
    unit: str
    goal: Goal | None = None
    baseline: float | None = None
    baseline_is: str = ""
    detail: str = ""  # latencies or conditions, printed under the figure

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


def _figure(value: float, unit: str) -> str:
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def render(rows: list[Row], cores: int | None) -> str:
    lines = [
        f"Talent Network benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cores} cores",
        "",
        "| measure | this run | baseline (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        figure = _figure(row.value, row.unit) + (f" ({row.detail})" if row.detail else "")
        baseline = (
            f"{_figure(row.baseline, row.unit)}: {row.baseline_is}"
            if row.baseline is not None
            else row.baseline_is or "-"
        )
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        goal = row.goal.describe(row.unit) if row.goal else "-"
        met = ("yes" if row.goal.met(row.value, row.baseline) else "no") if row.goal else "-"
        lines.append(f"| {row.measure} | {figure} | {baseline} | {ratio} | {goal} | {met} |")
    return "\n".join(lines)
