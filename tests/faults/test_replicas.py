"""Two replicas of every service in one consumer group; one is killed while a rebalance is
under way (a third replica joining). Nothing accepted is lost or handled twice."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.faults.harness import FaultStack, run_and_check, workload
from tests.faults.stack import fault_stack

pytestmark = [pytest.mark.integration, pytest.mark.faults]

SERVICES = ("signup", "jobs", "notifications")


@pytest.fixture(scope="module")
async def stack(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FaultStack]:
    async with fault_stack(tmp_path_factory.mktemp("replica-logs"), replicas=2) as running:
        yield running


async def test_replica_killed_during_a_rebalance(stack: FaultStack) -> None:
    async def rebalance_and_kill() -> None:
        for service in SERVICES:
            stack.add_replica(service, index=2)  # joining: the group rebalances
        await asyncio.sleep(1)
        for service in SERVICES:
            stack.kill(stack.replicas[service][1])  # dies mid-rebalance
        for service in SERVICES:
            process = stack.replicas[service][2].process
            assert process is not None
            await asyncio.to_thread(process.wait_ready)

    async with httpx.AsyncClient(timeout=10) as client:
        load = await workload(stack, client)
        scenario = "2 replicas, one SIGKILLed during a rebalance"
        await run_and_check(stack, load, scenario, rebalance_and_kill, after=8)
