"""The robustness suite's shared stack: the three services as processes, started once for the
bad-input modules (test_security and test_api_fuzz start their own)."""

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.robustness.bad_input import Api
from tests.robustness.stack import ProcessStack, process_stack


@pytest.fixture(scope="package")
async def services(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ProcessStack]:
    async with process_stack(tmp_path_factory.mktemp("bad-input-logs")) as stack:
        yield stack


@pytest.fixture(scope="package")
def api(services: ProcessStack) -> Iterator[Api]:
    client = Api(services)
    try:
        yield client
    finally:
        client.close()
