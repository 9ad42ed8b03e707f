"""A double opt-in confirmation crossing the sweep that erases expired pending sign-ups (real
PostgreSQL): whichever transaction comes first, the sign-up ends either confirmed or erased,
never confirmed and erased, and never erased while it is being confirmed."""

import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import pytest

from devsupport.databases import migrated_pool
from talent_shared.db import Connection, Pool
from talent_signup import repository, service
from tests.support.crossing import Work, cross

pytestmark = pytest.mark.integration

SECRET = "crossing-secret"


@pytest.fixture(scope="module")
async def pool(infrastructure: None) -> AsyncIterator[Pool]:
    async with migrated_pool("talent_signup", "confirm_expiry", max_size=6) as pool:
        yield pool


async def pending_sign_up(pool: Pool) -> UUID:
    candidate_id = uuid.uuid4()
    async with pool.acquire() as connection:
        await repository.insert_candidate(
            connection,
            candidate_id=candidate_id,
            email=f"{candidate_id.hex[:12]}@example.org",
            first_name="Ada",
            last_name="Lovelace",
            phone=None,
            interests=[],
            locations=[],
            keywords=[],
            alert_frequency="instant",
            visitor_id=None,
            status="pending",
        )
    return candidate_id


def sweeping(erased: list[UUID]) -> Work:
    async def sweep(connection: Connection) -> None:
        # Every pending sign-up counts as expired here: the age is not what is tested.
        erased.extend(
            await service.erase_expired_pending_in(
                connection, secret=SECRET, max_age_seconds=0, limit=1000
            )
        )

    return sweep


def confirming(candidate_id: UUID, confirmed: list[bool]) -> Work:
    async def confirm(connection: Connection) -> None:
        confirmed.append(await repository.confirm(connection, candidate_id) is not None)

    return confirm


async def status_of(pool: Pool, candidate_id: UUID) -> str | None:
    async with pool.acquire() as connection:
        row = await repository.fetch_candidate(connection, candidate_id)
        erased = await repository.was_erased(connection, candidate_id)
    return "erased" if erased else (row["status"] if row else None)


async def test_a_confirmation_under_way_is_skipped_by_the_sweep(pool: Pool) -> None:
    candidate_id = await pending_sign_up(pool)
    erased: list[UUID] = []
    confirmed: list[bool] = []
    await cross(pool, confirming(candidate_id, confirmed), sweeping(erased))
    assert confirmed == [True]
    assert candidate_id not in erased
    assert await status_of(pool, candidate_id) == "subscribed"


async def test_a_confirmation_during_the_sweep_finds_the_sign_up_erased(pool: Pool) -> None:
    candidate_id = await pending_sign_up(pool)
    erased: list[UUID] = []
    confirmed: list[bool] = []
    await cross(pool, sweeping(erased), confirming(candidate_id, confirmed))
    assert candidate_id in erased
    assert confirmed == [False]
    assert await status_of(pool, candidate_id) == "erased"
