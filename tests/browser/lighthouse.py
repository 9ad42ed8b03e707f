"""Lighthouse, the npm package pinned in tests/browser/lighthouse/ (installed with npm ci under
.local/lighthouse), run on Debian's Chromium, headless. Used by test_lighthouse.py.

    python -m tests.browser.lighthouse URL...   prints each page's scores (a stack must run)
"""

import filecmp
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.local.apt import ensure_debian_package
from devsupport.infra import REPO_ROOT
from tests.browser.stack import CHROMIUM_ARGS

PINNED = REPO_ROOT / "tests" / "browser" / "lighthouse"
INSTALLED = REPO_ROOT / ".local" / "lighthouse"
CLI = INSTALLED / "node_modules" / "lighthouse" / "cli" / "index.js"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
RUN_TIMEOUT_SECONDS = 180
# Lighthouse's advice for scores that vary from run to run (here: 2 cores shared by everything):
# several runs, the median one kept.
RUNS = 3


@dataclass(frozen=True)
class Report:
    """One Lighthouse run of a page: its category scores (0-100) and its audits."""

    url: str
    scores: dict[str, int]
    audits: dict[str, dict[str, Any]]

    @property
    def cumulative_layout_shift(self) -> float:
        return float(self.audits["cumulative-layout-shift"]["numericValue"])

    def failed(self, category: str, categories: dict[str, Any]) -> list[str]:
        """The audits of ``category`` that count towards its score and did not pass."""
        refs = categories[category]["auditRefs"]
        weighted = [ref["id"] for ref in refs if ref["weight"] > 0]
        return [
            audit
            for audit in weighted
            if self.audits[audit]["score"] is not None and self.audits[audit]["score"] < 1
        ]


def install() -> Path:
    """The Lighthouse CLI, installed (again) when the pinned lock file changed."""
    node = ensure_debian_package("node", "nodejs")
    npm = ensure_debian_package("npm", "npm")
    lock = INSTALLED / "package-lock.json"
    if CLI.exists() and lock.exists() and filecmp.cmp(lock, PINNED / "package-lock.json"):
        return Path(node)
    INSTALLED.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PINNED / name, INSTALLED / name)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=INSTALLED, check=True
    )
    return Path(node)


def audit(url: str) -> tuple[Report, dict[str, Any]]:
    """Lighthouse's default (mobile, simulated throttling) run of ``url``: the report, and the
    categories of its raw result (for which audits count)."""
    node = install()
    chromium = ensure_debian_package("chromium", "chromium")
    flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    command = [
        str(node),
        str(CLI),
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={flags}",
    ]
    environment = {**os.environ, "CHROME_PATH": chromium}
    finished = subprocess.run(
        command,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"lighthouse failed on {url}:\n{finished.stderr[-3000:]}")
    result = json.loads(finished.stdout)
    scores = {
        name: round(category["score"] * 100) for name, category in result["categories"].items()
    }
    return Report(url=url, scores=scores, audits=result["audits"]), result["categories"]


def median_audit(url: str, runs: int = RUNS) -> tuple[Report, dict[str, Any], list[int]]:
    """The run with the median performance score of ``runs`` runs, its categories, and every
    run's performance score."""
    results = sorted((audit(url) for _ in range(runs)), key=lambda r: r[0].scores["performance"])
    report, categories = results[len(results) // 2]
    return report, categories, [r[0].scores["performance"] for r in results]


def summary(report: Report, categories: dict[str, Any]) -> str:
    """One line per page: the scores, CLS, and the audits that cost points."""
    scores = "  ".join(f"{name} {report.scores[name]:3d}" for name in CATEGORIES)
    failed = {name: report.failed(name, categories) for name in CATEGORIES}
    lost = "; ".join(f"{name}: {', '.join(ids)}" for name, ids in failed.items() if ids)
    cls = f"CLS {report.cumulative_layout_shift:.3f}"
    return f"{report.url}\n    {scores}  {cls}" + (f"\n    failed: {lost}" if lost else "")


if __name__ == "__main__":
    for page in sys.argv[1:]:
        median, categories, performances = median_audit(page)
        print(summary(median, categories), f"(performance of each run: {performances})", flush=True)
