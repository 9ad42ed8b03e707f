"""`make seed-scale` (`python -m bench.seed_scale`): the reference data set into the three services'
databases, by COPY: the jobs (jobs, and the notifications service's replica of them), the members
(signup's candidates and consents, the notifications service's subscribers) and the views (the
jobs service's recently-viewed projection, as the projector leaves it: at most 50 per visitor).

Loading again gives the same rows: each table's rows of the data set (and what the services
derived from them: matches, windows, deliveries) are replaced, other rows are kept. Targets the
databases of `make up` (the servers and ports of INFRA_*), or the URLs given. The schemas are
migrated first, as the services do at start.
"""

import argparse
import asyncio
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import asyncpg

from bench import reference_data
from bench.reference_data import CANDIDATE_ID, JOB_ID, REQUISITION_PREFIX, VISITOR_PREFIX
from deploy.local.config import Config
from deploy.local.services import Service
from talent_shared.db import apply_migrations, create_pool
from talent_shared.runtime import all_migrations
from talent_signup.settings import SignupSettings

# Every row of the data set's candidates or jobs: their ids differ only in the last 12 digits.
OWN_CANDIDATES = (
    f"candidate_id BETWEEN '{CANDIDATE_ID.format(0)}' AND '{CANDIDATE_ID.format(0xFFFFFFFFFFFF)}'"
)
OWN_JOB_IDS = f"job_id BETWEEN '{JOB_ID.format(0)}' AND '{JOB_ID.format(0xFFFFFFFFFFFF)}'"
OWN_VIEWS = f"starts_with(visitor_id, '{VISITOR_PREFIX}')"


@dataclass(frozen=True)
class Targets:
    """The database URL of each service."""

    signup: str
    jobs: str
    notifications: str


def say(message: str) -> None:
    print(f"seed-scale: {message}", flush=True)


async def migrated(url: str, package: str) -> None:
    pool = await create_pool(url, max_size=1)
    try:
        await apply_migrations(pool, all_migrations(package))
    finally:
        await pool.close()


async def replace_rows(
    connection: asyncpg.Connection,
    table: str,
    own: str,
    columns: Sequence[str],
    records: Iterable[tuple[object, ...]],
) -> None:
    """Replace the table's own rows (``own``: a condition) by ``records``, in one transaction:
    TRUNCATE when the table holds nothing else (much faster than deleting millions of rows),
    else DELETE. The lock keeps a service from writing a row between the check and the load."""
    async with connection.transaction():
        await connection.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        others = await connection.fetchval(
            f"SELECT EXISTS (SELECT FROM {table} WHERE ({own}) IS NOT TRUE)"
        )
        if others:
            await connection.execute(f"DELETE FROM {table} WHERE {own}")
        else:
            await connection.execute(f"TRUNCATE {table} CASCADE")
        await connection.copy_records_to_table(table, records=records, columns=columns)


async def vacuum_analyze(connection: asyncpg.Connection, tables: Iterable[str]) -> None:
    """Statistics for the planner and a visibility map now, not when autovacuum gets to it
    in the middle of a measure."""
    for table in tables:
        await connection.execute(f"VACUUM ANALYZE {table}")


JOB_COLUMNS = (
    "job_id", "requisition_id", "title", "category", "location", "description",
    "employment_type", "featured", "status", "posted_at", "updated_at",
)  # fmt: skip
REPLICA_COLUMNS = (
    "job_id", "title", "category", "location", "description", "status", "posted_at", "updated_at",
)  # fmt: skip


async def load_jobs(jobs_url: str, notifications_url: str) -> None:
    catalogue = reference_data.jobs()
    jobs = await asyncpg.connect(jobs_url)
    notifications = await asyncpg.connect(notifications_url)
    try:
        # A job of ours made by a feed before (another id, same requisition) goes too, in both.
        own = f"({OWN_JOB_IDS} OR starts_with(requisition_id, '{REQUISITION_PREFIX}'))"
        stale = [row["job_id"] for row in await jobs.fetch(f"SELECT job_id FROM jobs WHERE {own}")]
        await forget_jobs(notifications, stale)
        rows = [
            (j.job_id, j.requisition_id, j.title, j.category, j.location, j.description,
             j.employment_type, j.featured, "open", j.posted_at, j.posted_at)
            for j in catalogue
        ]  # fmt: skip
        await replace_rows(jobs, "jobs", own, JOB_COLUMNS, rows)
        replica = [(r[0], *r[2:6], "open", r[9], r[10]) for r in rows]
        await replace_rows(notifications, "jobs", OWN_JOB_IDS, REPLICA_COLUMNS, replica)
        await vacuum_analyze(jobs, ["jobs"])
        await vacuum_analyze(notifications, ["jobs"])
    finally:
        await jobs.close()
        await notifications.close()
    say(f"{len(catalogue):,} open jobs")


async def forget_jobs(notifications: asyncpg.Connection, job_ids: list[object]) -> None:
    """What the notifications service derived from these jobs: matches waiting or sent."""
    for table in ("alerted_jobs", "digest_queue", "jobs"):
        await notifications.execute(f"DELETE FROM {table} WHERE job_id = ANY($1::uuid[])", job_ids)


CANDIDATE_COLUMNS = (
    "candidate_id", "email", "email_key", "first_name", "last_name", "interests", "locations",
    "keywords", "alert_frequency", "status", "visitor_id", "created_at", "updated_at",
    "unsubscribed_at",
)  # fmt: skip
CONSENT_COLUMNS = ("candidate_id", "given_at", "text_version", "source", "visitor_id")
SUBSCRIBER_COLUMNS = (
    "candidate_id", "email", "first_name", "interests", "locations", "keywords",
    "alert_frequency", "subscribed", "updated_at",
)  # fmt: skip
# What the notifications service keeps about a candidate besides the subscriber row.
DERIVED_FROM_CANDIDATES = (
    "alerted_jobs", "digest_queue", "alert_windows", "deliveries", "erased_candidates",
)  # fmt: skip


async def load_members(signup_url: str, notifications_url: str, visitors: int) -> None:
    members = list(reference_data.members(visitors))
    text_version = SignupSettings().consent_text_version
    signup = await asyncpg.connect(signup_url)
    notifications = await asyncpg.connect(notifications_url)
    try:
        candidates = [
            (m.candidate_id, m.email, m.email.lower(), m.first_name, m.last_name,
             m.preferences.interests, m.preferences.locations, m.preferences.keywords,
             m.preferences.alert_frequency, "subscribed" if m.subscribed else "unsubscribed",
             m.visitor_id, m.signed_up_at, m.signed_up_at,
             None if m.subscribed else m.signed_up_at)
            for m in members
        ]  # fmt: skip
        # Consents and change requests belong to their candidate (ON DELETE CASCADE).
        await signup.execute(f"DELETE FROM erasures WHERE {OWN_CANDIDATES}")
        await replace_rows(signup, "candidates", OWN_CANDIDATES, CANDIDATE_COLUMNS, candidates)
        consents = [(m.candidate_id, m.signed_up_at, text_version, "form", m.visitor_id)
                    for m in members]  # fmt: skip
        await signup.copy_records_to_table("consents", records=consents, columns=CONSENT_COLUMNS)
        for table in DERIVED_FROM_CANDIDATES:
            await notifications.execute(f"DELETE FROM {table} WHERE {OWN_CANDIDATES}")
        subscribers = [(c[0], c[1], c[3], *c[5:9], c[9] == "subscribed", c[12]) for c in candidates]
        await replace_rows(
            notifications, "subscribers", OWN_CANDIDATES, SUBSCRIBER_COLUMNS, subscribers
        )
        await vacuum_analyze(signup, ["candidates", "consents"])
        await vacuum_analyze(notifications, ["subscribers", *DERIVED_FROM_CANDIDATES])
    finally:
        await signup.close()
        await notifications.close()
    say(f"{len(members):,} members (candidates, consents, subscribers)")


def load_views(jobs_url: str) -> int:
    """In a process of its own: generating the views is the longest part, and the other core
    meanwhile loads the members."""
    plan = reference_data.view_plan(reference_data.jobs())
    rows = 0

    def counted() -> Iterable[tuple[object, ...]]:
        nonlocal rows
        for row in reference_data.recently_viewed(plan):
            rows += 1
            yield row

    async def load() -> None:
        jobs = await asyncpg.connect(jobs_url)
        try:
            columns = ("visitor_id", "job_id", "viewed_at")
            await replace_rows(jobs, "recently_viewed", OWN_VIEWS, columns, counted())
            await vacuum_analyze(jobs, ["recently_viewed"])
        finally:
            await jobs.close()

    asyncio.run(load())
    say(
        f"{reference_data.VIEWS:,} views of {plan.visitors:,} visitors over "
        f"{reference_data.VIEW_DAYS} days: {rows:,} rows in recently_viewed"
    )
    return plan.visitors


async def seed(targets: Targets) -> None:
    started = time.monotonic()
    await asyncio.gather(
        migrated(targets.signup, "talent_signup"),
        migrated(targets.jobs, "talent_jobs"),
        migrated(targets.notifications, "talent_notifications"),
    )
    visitors = reference_data.view_plan(reference_data.jobs()).visitors
    with ProcessPoolExecutor(max_workers=1) as process:
        views = asyncio.get_running_loop().run_in_executor(process, load_views, targets.jobs)
        await load_jobs(targets.jobs, targets.notifications)
        await load_members(targets.signup, targets.notifications, visitors)
        await views
    say(f"done in {time.monotonic() - started:.0f} s")


def make_up_targets() -> Targets:
    """The databases `make up` gives the services (deploy/local/services.py decides them)."""
    config = Config.from_environment()
    urls = {name: Service(name, config).database_url for name in ("signup", "jobs")}
    return Targets(urls["signup"], urls["jobs"], Service("notifications", config).database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for service in ("signup", "jobs", "notifications"):
        parser.add_argument(f"--{service}-url", help=f"{service}'s database (default: make up's)")
    arguments = parser.parse_args()
    given = [arguments.signup_url, arguments.jobs_url, arguments.notifications_url]
    if any(given) and not all(given):
        parser.error("give the three URLs, or none (make up's databases)")
    asyncio.run(seed(Targets(*given) if all(given) else make_up_targets()))


if __name__ == "__main__":
    main()
