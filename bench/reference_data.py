"""The reference data set of the contract's "Hospital scale": 3,000 open jobs, 200,000 members and
5 million job views over 30 days, generated the same way every time (fixed seeds, fixed dates).

Spreads are those of a hospital's careers site: nursing is the largest category and Durham the
largest place; a member picks one or two categories and a place or two (few leave them open),
four in ten add keywords; alerts are instant for four in ten. A visitor's views follow a
long tail (most view a few jobs, some hundreds), mostly in one category, and popular jobs draw
more of them. Rows carry ids that say they are the data set's (see ``*_ID`` and ``*_PREFIX``),
so loading it again replaces exactly its own rows.
"""

import heapq
import random
import uuid
from bisect import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from operator import itemgetter

from deploy.local.seed_jobs import EMPLOYMENT_TYPES, SHIFTS, SKILLS, TITLES, UNITS

JOBS = 3_000
MEMBERS = 200_000
VIEWS = 5_000_000
VIEW_DAYS = 30
KEPT_PER_VISITOR = 50  # the projection's RECENTLY_VIEWED_KEPT
# Fixed, so the same rows come out on any day.
DATA_SET_END = datetime(2026, 12, 1, tzinfo=UTC)

# The data set's own ids: fixed leading bytes, the row's number last.
JOB_ID = "5ca1e70b-0000-4000-8000-{:012x}"
CANDIDATE_ID = "5ca1ec00-0000-4000-8000-{:012x}"
VISITOR_PREFIX = "scale-"
REQUISITION_PREFIX = "SCALE-"
EMAIL_DOMAIN = "members.scale.example.org"

CATEGORY_SHARES = {
    "Nursing": 30,
    "Allied Health": 14,
    "Administrative": 10,
    "Physicians": 8,
    "IT": 7,
    "Behavioral Health": 7,
    "Environmental Services": 6,
    "Pharmacy": 6,
    "Research": 6,
    "Food and Nutrition": 6,
}
LOCATION_SHARES = {
    "Durham, NC": 30,
    "Raleigh, NC": 20,
    "Chapel Hill, NC": 12,
    "Cary, NC": 8,
    "Remote": 8,
    "Wake Forest, NC": 5,
    "Morrisville, NC": 5,
    "Apex, NC": 4,
    "Garner, NC": 4,
    "Hillsborough, NC": 4,
}
FREQUENCY_SHARES = {"instant": 40, "daily": 30, "weekly": 20, "never": 10}
# How many categories, places and keywords a member picks (share of members for 0, 1, 2, 3).
# With these, a job matches 7,000 alertable members at the median, 9,000 on average, 19,000 at
# the 90th percentile and 25,000 at most.
INTEREST_COUNTS = (4, 60, 28, 8)
LOCATION_COUNTS = (15, 60, 25)
KEYWORD_COUNTS = (60, 28, 12)
UNSUBSCRIBED_SHARE = 0.03
WITH_VISITOR_ID_SHARE = 0.6  # members whose sign-up came with the visitor id of their views
FIRST_NAMES = ("Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal")
LAST_NAMES = ("Nguyen", "Smith", "Garcia", "Okafor", "Kim", "Patel", "Rossi", "Cohen", "Silva")


@dataclass(frozen=True)
class Spread:
    """Names and their shares, drawn in proportion (cumulative weights computed once)."""

    names: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, shares: dict[str, int]) -> "Spread":
        return cls(tuple(shares), tuple(accumulate(shares.values())))

    def one(self, rng: random.Random) -> str:
        # What rng.choices does for one draw, without its per-call setup (a tenth of the cost).
        return self.names[bisect(self.cumulative, rng.random() * self.cumulative[-1])]

    def distinct(self, rng: random.Random, count: int) -> list[str]:
        picked: dict[str, None] = {}
        while len(picked) < min(count, len(self.names)):
            picked[self.one(rng)] = None
        return list(picked)


CATEGORIES = Spread.of(CATEGORY_SHARES)
LOCATIONS = Spread.of(LOCATION_SHARES)
FREQUENCIES = Spread.of(FREQUENCY_SHARES)


def _count(rng: random.Random, shares: tuple[int, ...]) -> int:
    """How many, drawn by ``shares`` (the share of 0, of 1, ...)."""
    cumulative = list(accumulate(shares))
    return bisect(cumulative, rng.random() * cumulative[-1])


@dataclass(frozen=True)
class Job:
    job_id: uuid.UUID
    requisition_id: str
    title: str
    category: str
    location: str
    description: str
    employment_type: str
    featured: bool
    posted_at: datetime

    def feed_entry(self) -> dict[str, object]:
        """The job as an ATS feed gives it (POST /v1/jobs/sync, PUT by requisition)."""
        return {
            "requisition_id": self.requisition_id,
            "title": self.title,
            "category": self.category,
            "location": self.location,
            "description": self.description,
            "employment_type": self.employment_type,
            "featured": self.featured,
        }


def job_like_ours(rng: random.Random, number: int, requisition_prefix: str) -> Job:
    """A job drawn from the data set's spreads (also what the bench posts and imports)."""
    category = CATEGORIES.one(rng)
    title = rng.choice(TITLES[category])
    skills = ", ".join(rng.sample(SKILLS, 2))
    return Job(
        job_id=uuid.UUID(JOB_ID.format(number)),
        requisition_id=f"{requisition_prefix}{number:05d}",
        title=title,
        category=category,
        location=LOCATIONS.one(rng),
        description=(
            f"Join our team at {rng.choice(UNITS)} as {title}, working {rng.choice(SHIFTS)}. "
            f"Experience with {skills} is a plus. We offer tuition assistance, retirement "
            "matching and paid time off from day one."
        ),
        employment_type=rng.choice(EMPLOYMENT_TYPES),
        featured=rng.random() < 0.01,
        posted_at=DATA_SET_END - timedelta(seconds=rng.uniform(0, 60 * 86_400)),
    )


def jobs() -> list[Job]:
    rng = random.Random("reference jobs")
    return [job_like_ours(rng, n, REQUISITION_PREFIX) for n in range(JOBS)]


@dataclass(frozen=True)
class Preferences:
    interests: list[str]
    locations: list[str]
    keywords: list[str]
    alert_frequency: str


def preferences_like_ours(rng: random.Random) -> Preferences:
    """A member's preferences, drawn from the data set's spreads (also the bench's sign-ups)."""
    return Preferences(
        interests=CATEGORIES.distinct(rng, _count(rng, INTEREST_COUNTS)),
        locations=LOCATIONS.distinct(rng, _count(rng, LOCATION_COUNTS)),
        keywords=rng.sample(SKILLS, _count(rng, KEYWORD_COUNTS)),
        alert_frequency=FREQUENCIES.one(rng),
    )


@dataclass(frozen=True)
class Member:
    candidate_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    preferences: Preferences
    subscribed: bool
    visitor_id: str | None
    signed_up_at: datetime


def members(visitors: int) -> Iterator[Member]:
    """The members, some of them with the id of one of ``visitors`` visitors."""
    rng = random.Random("reference members")
    for n in range(MEMBERS):
        with_visitor = rng.random() < WITH_VISITOR_ID_SHARE
        yield Member(
            candidate_id=uuid.UUID(CANDIDATE_ID.format(n)),
            email=f"member{n:06d}@{EMAIL_DOMAIN}",
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            preferences=preferences_like_ours(rng),
            subscribed=rng.random() >= UNSUBSCRIBED_SHARE,
            visitor_id=visitor_id(rng.randrange(visitors)) if with_visitor else None,
            signed_up_at=DATA_SET_END - timedelta(seconds=rng.uniform(0, 730 * 86_400)),
        )


def visitor_id(number: int) -> str:
    return f"{VISITOR_PREFIX}{number:07d}"


@dataclass(frozen=True)
class ViewPlan:
    """How many views each visitor made (their sum is VIEWS), and the jobs' draw weights."""

    views_per_visitor: list[int]
    jobs: list[Job]

    @property
    def visitors(self) -> int:
        return len(self.views_per_visitor)


def view_plan(catalogue: list[Job]) -> ViewPlan:
    """A long tail of views per visitor (log-normal, mean about 12), until VIEWS are made."""
    rng = random.Random("reference visitors")
    counts: list[int] = []
    remaining = VIEWS
    while remaining:
        count = min(remaining, max(1, round(rng.lognormvariate(1.8, 1.2))))
        counts.append(count)
        remaining -= count
    return ViewPlan(counts, catalogue)


def recently_viewed(plan: ViewPlan) -> Iterator[tuple[str, uuid.UUID, datetime]]:
    """The projection of the plan's views: per visitor, each job once at its latest view, the
    newest KEPT_PER_VISITOR kept; in primary key order (visitor, then job: job ids grow with
    their number), which keeps the load's index inserts sequential."""
    rng = random.Random("reference views")
    popularity = [1 / (rank + 1) ** 0.9 for rank in range(len(plan.jobs))]
    rng.shuffle(popularity)
    everything = _pool(range(len(plan.jobs)), popularity)
    by_category = {
        category: _pool(indexes, popularity)
        for category in CATEGORY_SHARES
        if (indexes := [i for i, job in enumerate(plan.jobs) if job.category == category])
    }
    start = DATA_SET_END - timedelta(days=VIEW_DAYS)
    for number, count in enumerate(plan.views_per_visitor):
        own = by_category[CATEGORIES.one(rng)]
        in_own = int(count * OWN_CATEGORY_SHARE + rng.random())
        latest = _latest_views(
            rng, _draw(rng, own, in_own) + _draw(rng, everything, count - in_own)
        )
        visitor = visitor_id(number)
        for job, seconds in sorted(latest):
            yield visitor, plan.jobs[job].job_id, start + timedelta(seconds=seconds)


OWN_CATEGORY_SHARE = 0.8  # of a visitor's views, in the category they look for
VISIT_SPAN_SECONDS = 3 * 86_400  # a visitor's views fall within days of their first


def _latest_views(rng: random.Random, jobs: list[int]) -> list[tuple[int, float]]:
    """(job, seconds into the window) of the visitor's latest view of each job, the newest
    KEPT_PER_VISITOR."""
    window = VIEW_DAYS * 86_400.0
    first = rng.random() * window
    latest: dict[int, float] = {}
    for job in jobs:
        at = min(window, first + VISIT_SPAN_SECONDS * rng.random())
        if at > latest.get(job, -1.0):
            latest[job] = at
    if len(latest) <= KEPT_PER_VISITOR:
        return list(latest.items())
    return heapq.nlargest(KEPT_PER_VISITOR, latest.items(), key=itemgetter(1))


Pool = tuple[list[int], list[float]]


def _pool(indexes: Iterable[int], popularity: list[float]) -> Pool:
    chosen = list(indexes)
    return chosen, list(accumulate(popularity[i] for i in chosen))


def _draw(rng: random.Random, pool: Pool, count: int) -> list[int]:
    indexes, cumulative = pool
    return rng.choices(indexes, cum_weights=cumulative, k=count) if count else []
