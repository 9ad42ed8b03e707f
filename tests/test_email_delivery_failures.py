"""The SMTP server refuses or disappears for a while: every email still arrives, once."""

import asyncio

import pytest

from tests.support.fixtures import Stack
from tests.support.flows import post_job, settled, sign_up, text_of, unique

pytestmark = pytest.mark.integration


async def test_emails_arrive_once_each_after_451_replies_stop(stack: Stack) -> None:
    stack.smtp.handler.refuse_with = "451 4.3.0 Mailbox busy, try again later"
    try:
        category = unique("Nursing")
        job_id = await post_job(stack, category=category)
        await asyncio.sleep(0.5)
        signed_up = [await sign_up(stack, interests=[category]) for _ in range(3)]
        await asyncio.sleep(2)  # several refused attempts
        assert stack.smtp.handler.refused > 0
        assert all(not stack.smtp.handler.to(email) for _, email in signed_up)
    finally:
        stack.smtp.handler.refuse_with = None
    for _, email in signed_up:
        messages = await stack.smtp.wait_for(email, 2, timeout=30)
        assert sorted(m["Subject"].split()[0] for m in messages) == ["New", "Welcome"]
        [alert] = [m for m in messages if m["Subject"].startswith("New")]
        assert f"/jobs/{job_id}" in text_of(alert)
    for _, email in signed_up:
        items = await settled(stack, email)
        assert all(item["status"] == "sent" and item["attempts"] > 1 for item in items)
    await asyncio.sleep(1)
    assert all(len(stack.smtp.handler.to(email)) == 2 for _, email in signed_up)


async def test_emails_arrive_once_after_the_smtp_server_was_down(stack: Stack) -> None:
    stack.smtp.stop()
    try:
        _, email = await sign_up(stack)
        await asyncio.sleep(1.5)  # refused connections, retried
    finally:
        stack.smtp.start()
    [welcome] = await stack.smtp.wait_for(email, 1, timeout=30)
    assert "Welcome" in welcome["Subject"]
    [item] = await settled(stack, email)
    assert item["attempts"] > 1
    await asyncio.sleep(1)
    assert len(stack.smtp.handler.to(email)) == 1


async def test_permanent_refusal_fails_the_delivery_without_retrying(stack: Stack) -> None:
    stack.smtp.handler.refuse_with = "550 5.1.1 No such user"
    try:
        _, email = await sign_up(stack)
        [item] = await settled(stack, email)
    finally:
        stack.smtp.handler.refuse_with = None
    assert item["status"] == "failed"
    assert item["attempts"] == 1
