"""DELETE /v1/candidates/{id}: no personal data left in the signup database, and the event."""

import uuid

import asyncpg
import httpx
import pytest

from devsupport.services import ADMIN_HEADERS
from services.signup.tests.helpers import (
    candidate_events_after,
    new_email,
    sign_up,
    sign_up_published,
    token_for,
)
from talent_shared.tokens import TokenPurpose

pytestmark = pytest.mark.integration


async def rows_mentioning(database_url: str, *needles: str) -> list[str]:
    """Every table whose rows contain any of ``needles`` in any column (cast to text)."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        found = []
        for table in tables:
            name = table["tablename"]
            for needle in needles:
                hit = await connection.fetchval(
                    f'SELECT true FROM "{name}" AS t WHERE t::text ILIKE $1 LIMIT 1'
                    if name != "outbox"
                    else "SELECT true FROM outbox WHERE convert_from(payload, 'UTF8') ILIKE $1",
                    f"%{needle}%",
                )
                if hit:
                    found.append(f"{name}: {needle}")
        return found
    finally:
        await connection.close()


async def test_erasure_is_204_and_the_candidate_is_gone(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    response = await signup.delete(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    assert response.status_code == 204
    read = await signup.get(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    assert read.status_code == 404


async def test_erasure_leaves_no_personal_data_in_the_database(
    signup: httpx.AsyncClient, signup_database: str
) -> None:
    email = new_email()
    last_name = f"Surname{uuid.uuid4().hex[:8]}"
    candidate_id = (
        await sign_up(signup, email=email, last_name=last_name, phone="+1 919 555 0100")
    )["candidate_id"]
    await signup.post(
        "/v1/unsubscribe", params={"token": token_for(candidate_id, TokenPurpose.UNSUBSCRIBE)}
    )
    assert await rows_mentioning(signup_database, email, last_name)  # the check can see them
    await signup.delete(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    assert await rows_mentioning(signup_database, email, last_name, "919 555 0100") == []


async def test_erasure_keeps_only_a_hash_of_the_email(
    signup: httpx.AsyncClient, signup_database: str
) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    await signup.delete(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
    connection = await asyncpg.connect(signup_database)
    try:
        row = await connection.fetchrow(
            "SELECT email_hash FROM erasures WHERE candidate_id = $1", uuid.UUID(candidate_id)
        )
    finally:
        await connection.close()
    assert row is not None
    assert len(row["email_hash"]) == 64


async def test_erasure_emits_candidate_erased(signup: httpx.AsyncClient) -> None:
    candidate_id = await sign_up_published(signup)

    async def erase() -> None:
        await signup.delete(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)

    types = await candidate_events_after(
        signup, erase, candidate_id=lambda: candidate_id, expected=1
    )
    assert types == ["CandidateErased"]


async def test_erasing_twice_is_204_both_times(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    for _ in range(2):
        response = await signup.delete(f"/v1/candidates/{candidate_id}", headers=ADMIN_HEADERS)
        assert response.status_code == 204


async def test_erasing_an_unknown_candidate_is_404(signup: httpx.AsyncClient) -> None:
    response = await signup.delete(f"/v1/candidates/{uuid.uuid4()}", headers=ADMIN_HEADERS)
    assert response.status_code == 404


async def test_erasure_needs_the_admin_token(signup: httpx.AsyncClient) -> None:
    candidate_id = (await sign_up(signup))["candidate_id"]
    assert (await signup.delete(f"/v1/candidates/{candidate_id}")).status_code == 401
