"""The matching the queries use (repository.MATCHES, over the patterns migration 0006 stores, and
the two-branch join of a sign-up's open jobs) decides as job_matches, the contract's rules
(migration 0002), whatever the terms hold: any case, LIKE's wildcards and its escape character,
several terms, none, an empty one."""

import itertools
import uuid
from collections.abc import AsyncIterator

import pytest

from devsupport.databases import migrated_pool
from talent_notifications.repository import MATCHES, open_jobs_matching_subscribers
from talent_shared.db import Pool

pytestmark = pytest.mark.integration

INTERESTS = [[], ["nursing"], ["IT", "Research"], ["Pharmacy"]]
TERMS = [
    [], [""], ["durham"], ["DURHAM, nc"], ["%"], ["_urham"], ["50%"], ["a_b"], ["axb"],
    ["back\\slash"], ["\\"], ["nowhere", "Cary"], ["ICU"],
]  # fmt: skip
JOBS = [
    ("Nursing", "Durham, NC", "Registered Nurse - ICU", "Nights; 50% travel, a_b"),
    ("IT", "Cary, NC", "Epic Analyst", "back\\slash and axb"),
    ("Research", "Remote", "Data Engineer", "SQL, 100 percent"),
]


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with migrated_pool("talent_notifications", "matching_rules", max_size=1) as pool:
        yield pool


@pytest.fixture(scope="module")
async def subscribers(pool: Pool) -> int:
    """Every combination of interests, places and keywords, against the jobs; their count."""
    subscribers = [
        (uuid.uuid4(), "member@example.org", "Member", interests, locations, keywords, "instant")
        for interests, locations, keywords in itertools.product(INTERESTS, TERMS, TERMS)
    ]
    jobs = [(uuid.uuid4(), *job) for job in JOBS]
    async with pool.acquire() as connection:
        await connection.executemany(
            """INSERT INTO subscribers (candidate_id, email, first_name, interests, locations,
                                        keywords, alert_frequency)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            subscribers,
        )
        await connection.executemany(
            """INSERT INTO jobs (job_id, category, location, title, description, status,
                                 posted_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, 'open', now(), now())""",
            jobs,
        )
    return len(subscribers)


async def test_matches_decides_as_job_matches(pool: Pool, subscribers: int) -> None:
    async with pool.acquire() as connection:
        pairs = await connection.fetch(
            f"""SELECT job_matches(s.interests, s.locations, s.keywords, j.category,
                                   j.location, j.title, j.description) AS by_the_rules,
                       {MATCHES} AS by_the_queries
                FROM subscribers AS s CROSS JOIN jobs AS j"""
        )
    assert len(pairs) == subscribers * len(JOBS)
    decisions = {(pair["by_the_rules"], pair["by_the_queries"]) for pair in pairs}
    assert decisions == {(True, True), (False, False)}


async def test_a_sign_ups_open_jobs_are_the_pairs_job_matches_accepts(
    pool: Pool, subscribers: int
) -> None:
    async with pool.acquire() as connection:
        by_the_rules = await connection.fetch(
            """SELECT s.candidate_id, j.job_id FROM subscribers AS s CROSS JOIN jobs AS j
               WHERE job_matches(s.interests, s.locations, s.keywords, j.category, j.location,
                                 j.title, j.description)"""
        )
        by_the_query = await connection.fetch(open_jobs_matching_subscribers("true"))
    assert 0 < len(by_the_rules) < subscribers * len(JOBS)
    assert sorted(map(tuple, by_the_query)) == sorted(map(tuple, by_the_rules))
