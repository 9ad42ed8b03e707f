"""The locks of the notifications consumers: none of them serialises the service.

Two consumers read what the other writes: a sign-up is matched against the open jobs, a job
against the subscribers. Under READ COMMITTED each could miss the other's uncommitted row, and a
job posted while a matching candidate signs up would reach nobody. A barrier settles it:

- every candidate transaction takes the barrier *shared* (any number run at once, across
  replicas), and locks its own candidates;
- a job change commits its job rows in a short transaction of its own that takes the barrier
  *exclusive*, then matches the subscribers in pages, each page under its candidates' locks.

A candidate transaction that held the barrier before the job's commit has committed before it
(the exclusive lock waits for it), so the job's matching, which starts later, sees the candidate;
one that takes the barrier after the job's commit sees the job. The candidate locks serialise only
what touches one candidate: a page of a job's matching and that candidate's unsubscribe, erasure
or alert.
"""

from collections.abc import Iterable
from uuid import UUID

from talent_shared.db import Connection

BARRIER = 7_461_722_101  # any constant no other lock of this database uses
CANDIDATE_LOCK_CLASS = 7_461  # the first key of every candidate lock (two-key advisory locks)


async def share_barrier(connection: Connection) -> None:
    """Held until the transaction ends; alongside every other candidate transaction."""
    await connection.execute("SELECT pg_advisory_xact_lock_shared($1)", BARRIER)


async def pass_barrier(connection: Connection) -> None:
    """Held until the transaction ends: waits for the candidate transactions under way."""
    await connection.execute("SELECT pg_advisory_xact_lock($1)", BARRIER)


async def lock_candidates(connection: Connection, candidate_ids: Iterable[UUID]) -> None:
    """Lock each candidate until the transaction ends, in one order (no deadlock between two
    transactions locking overlapping candidates)."""
    ids = list(set(candidate_ids))
    if ids:
        await connection.execute(
            """SELECT pg_advisory_xact_lock($1, key)
               FROM (SELECT DISTINCT hashtext(id::text) AS key
                     FROM unnest($2::uuid[]) AS id ORDER BY 1) AS keys""",
            CANDIDATE_LOCK_CLASS,
            ids,
        )
