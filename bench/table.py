"""The one table `make bench` prints: each figure at scale (the reference data set loaded) beside
the same measure on empty databases, its baseline where it has one, and its goal, met or not."""

import dataclasses
from dataclasses import dataclass
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
    key: str  # the same measure in both columns
    measure: str
    value: float
    unit: str
    goal: Goal | None = None
    baseline: float | None = None
    baseline_is: str = ""
    detail: str = ""  # latencies or conditions, printed beside the figure

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    def against(self, baseline: float, baseline_is: str) -> "Row":
        return dataclasses.replace(self, baseline=baseline, baseline_is=baseline_is)

    def met(self) -> str:
        return ("yes" if self.goal.met(self.value, self.baseline) else "no") if self.goal else "-"

    def figure(self) -> str:
        ratio = f", {self.ratio:.2f}x baseline" if self.ratio is not None else ""
        detail = f"; {self.detail}" if self.detail else ""
        return f"{_number(self.value, self.unit)}{ratio}" + (f" ({detail[2:]})" if detail else "")


def _number(value: float, unit: str) -> str:
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def render(scale: list[Row], empty: list[Row], heading: str) -> str:
    """Rows in the order measured at scale; a measure only one column has shows '-' in the
    other."""
    empty_by_key = {row.key: row for row in empty}
    keys = [row.key for row in scale]
    rows: list[tuple[Row | None, Row | None]] = [(r, empty_by_key.get(r.key)) for r in scale]
    rows += [(None, row) for row in empty if row.key not in keys]
    lines = [
        heading,
        "",
        "| measure | at scale (reference data set) | empty databases | baseline (same run) "
        "| goal | met at scale | met empty |",
        "|---|---|---|---|---|---|---|",
    ]
    for at_scale, on_empty in rows:
        some = at_scale or on_empty
        assert some is not None
        baseline = next(
            (
                f"{_number(r.baseline, r.unit)}: {r.baseline_is}"
                for r in (at_scale, on_empty)
                if r is not None and r.baseline is not None
            ),
            "-",
        )
        goal = some.goal.describe(some.unit) if some.goal else "-"
        lines.append(
            f"| {some.measure} | {at_scale.figure() if at_scale else '-'} | "
            f"{on_empty.figure() if on_empty else '-'} | {baseline} | {goal} | "
            f"{at_scale.met() if at_scale else '-'} | {on_empty.met() if on_empty else '-'} |"
        )
    return "\n".join(lines)
