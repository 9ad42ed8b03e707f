"""An ATS syncing the careers site: the whole feed (the 3,000 reference jobs and the 500 imported
before) through POST /v1/jobs/sync, with 300 of its jobs changed, timed to the 202 and to the
last of its events in Kafka. On empty databases the feed's jobs are created by a first sync.

The last measure of a run: the notifications service then matches the changed jobs again, and
the run ends without waiting for it (the import measure times a fan-out).
"""

import asyncpg

from bench import reference_data
from bench.common import Options, until
from bench.fanout import open_feed, post_feed
from bench.stack import Stack
from bench.table import Goal, Row

CHANGED_EVERY = 10  # of the reference jobs: 300 of the 3,000
CHANGE = " A sign-on bonus is offered for this role."


async def measure(stack: Stack, options: Options) -> list[Row]:
    del options
    prepared = ""
    if not stack.seeded:
        reference = [job.feed_entry() for job in reference_data.jobs()]
        seconds, _ = await post_feed(stack, await open_feed(stack) + reference)
        prepared = f"; its 3,000 reference jobs created by a first sync ({seconds:.1f} s)"
    feed = await open_feed(stack)
    changed = 0
    for job in feed:
        number = str(job["requisition_id"]).removeprefix(reference_data.REQUISITION_PREFIX)
        if number.isdigit() and int(number) % CHANGED_EVERY == 0:
            job["description"] += CHANGE
            changed += 1
    seconds, counts = await post_feed(stack, feed)
    published = await _until_published(stack.databases.jobs)
    return [
        Row("sync", f"sync of the whole feed ({len(feed):,} jobs, {changed} changed)",
            seconds, "s", Goal("at_most", 30),
            detail=f"answered {counts['updated']} updated, {counts['unchanged']:,} unchanged, "
            f"{counts['created']} created, {counts['closed']} closed; its events all in Kafka "
            f"{published:.1f} s later{prepared}"),
    ]  # fmt: skip


async def _until_published(jobs_url: str) -> float:
    """Seconds until the jobs service's outbox has nothing left to publish."""
    jobs = await asyncpg.connect(jobs_url)

    async def published() -> bool:
        query = "SELECT NOT EXISTS (SELECT FROM outbox WHERE published_at IS NULL)"
        return bool(await jobs.fetchval(query))

    try:
        return await until(published, every=0.05, timeout=300, what="the feed's events")
    finally:
        await jobs.close()
