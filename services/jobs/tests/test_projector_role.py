"""RUN_PROJECTOR: job-view ingest and the recently-viewed projector in separate processes, on the
real broker and database."""

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from devsupport.infra import kafka_bootstrap
from services.jobs.tests.helpers import new_visitor, post_job, wait_for_recently_viewed
from talent_jobs.app import create_app
from talent_jobs.handlers import ERASURES, RECENTLY_VIEWED
from talent_jobs.settings import JobsSettings
from tests.support.fixtures import running, settings_for_test

pytestmark = pytest.mark.integration


async def consumer_groups() -> set[str]:
    """Every consumer group the broker knows (a group exists once a consumer has joined it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
    await admin.start()
    try:
        return {group_id for group_id, _ in await admin.list_consumer_groups()}
    finally:
        await admin.close()


def jobs_settings(database_url: str, *, run_projector: bool, group_prefix: str) -> JobsSettings:
    return settings_for_test(
        JobsSettings,
        database_url,
        run_projector=run_projector,
        kafka_consumer_group_prefix=group_prefix,
    )


def new_group_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}."


def test_run_projector_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_PROJECTOR", "false")
    assert JobsSettings().run_projector is False


async def test_process_with_projector_off_does_not_join_the_projector_group(
    jobs_database: str,
) -> None:
    settings = jobs_settings(jobs_database, run_projector=False, group_prefix=new_group_prefix())
    async with running(create_app(settings)):
        groups = await consumer_groups()
    assert settings.consumer_group(ERASURES) in groups  # its other consumer did join
    assert settings.consumer_group(RECENTLY_VIEWED) not in groups


async def test_process_with_projector_on_joins_the_projector_group(jobs_database: str) -> None:
    settings = jobs_settings(jobs_database, run_projector=True, group_prefix=new_group_prefix())
    async with running(create_app(settings)):
        groups = await consumer_groups()
    assert settings.consumer_group(RECENTLY_VIEWED) in groups


async def test_views_taken_by_an_ingest_process_are_projected_by_a_projector_process(
    jobs_database: str,
) -> None:
    prefix = new_group_prefix()
    ingest = jobs_settings(jobs_database, run_projector=False, group_prefix=prefix)
    projector = jobs_settings(jobs_database, run_projector=True, group_prefix=prefix)
    async with running(create_app(ingest)) as ingest_client, running(create_app(projector)):
        job = await post_job(ingest_client)
        visitor = new_visitor()
        response = await ingest_client.post(
            "/v1/job-views", json={"visitor_id": visitor, "job_id": job["job_id"]}
        )
        assert response.status_code == 202
        projected = await wait_for_recently_viewed(ingest_client, visitor, [job["job_id"]])
    assert projected == [job["job_id"]]
