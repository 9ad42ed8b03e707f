"""Schemathesis fuzzes each running service from its own /openapi.json: no request, however odd,
gets a 5xx, and every answer is one the schema documents (status, content type, body, headers).

Every request carries the admin bearer token, so admin operations are fuzzed past the auth check
(auth itself is covered by test_security.py). The run is bounded and reproducible: a fixed seed per
operation (the same cases on every run, whatever else changes in this file), no example database,
no shrinking, and at most
EXAMPLES_PER_MODE schema-valid plus EXAMPLES_PER_MODE schema-invalid cases per operation.

Cases come from ``APIOperation.as_strategy`` under a plain Hypothesis ``@given``: schemathesis'
own pytest integration (``schemathesis.pytest.from_fixture``) cannot run on pytest 9, which no
longer has the ``Function._nodeid`` attribute it rewrites.
"""

import zlib
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, CheckFunction, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from talent_shared.settings import DEVELOPMENT_ADMIN_TOKEN
from tests.robustness.stack import SERVICES, ProcessStack, process_stack

pytestmark = [pytest.mark.robustness, pytest.mark.integration]

SEED = 20_260_101
EXAMPLES_PER_MODE = 30
REQUEST_TIMEOUT_SECONDS = 10.0

# Not a 5xx, and conforming to the service's own schema. Undocumented statuses that are not bugs
# cannot occur here: 401 needs a missing token (every request has one) and 413 a body over
# 64 KiB (generated bodies stay far below); test_security.py and test_bad_input.py cover both.
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

Operation: TypeAlias = APIOperation[Any, Any, Any, Any]

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_MODE,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@pytest.fixture(scope="module")
async def services(
    infrastructure: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ProcessStack]:
    async with process_stack(tmp_path_factory.mktemp("fuzz-logs")) as stack:
        yield stack


def load_schema(url: str) -> schemathesis.BaseSchema:
    """The running service's own OpenAPI document; every generated request carries the token."""
    config = schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {DEVELOPMENT_ADMIN_TOKEN}"},
            "generation": {"with-security-parameters": False},
            # Reports show the exact values sent (the token is the public development one).
            "output": {"sanitization": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{url}/openapi.json", config=config, timeout=10)


def has_inputs(operation: Operation) -> bool:
    return any(True for _ in operation.iter_parameters()) or bool(operation.body)


def fuzz(operation: Operation, mode: GenerationMode) -> str | None:
    """Run the operation's cases of one mode; the first failure's report, or None."""

    @seed(SEED + zlib.crc32(f"{operation.label} {mode}".encode()))
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Case[Operation]) -> None:
        try:
            case.call_and_validate(checks=CHECKS, timeout=REQUEST_TIMEOUT_SECONDS)
        except FailureGroup as failures:
            # The report (failed checks, response, a curl command) is the group's message.
            raise AssertionError(failures.message) from None

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE and not has_inputs(operation):
            return None  # no parameter and no body: nothing can be made invalid
        raise
    except Exception as error:  # a failed check, or the service not answering at all
        return f"{operation.label} ({mode} data): {type(error).__name__}: {error}"
    return None


@pytest.mark.parametrize("service", SERVICES)
def test_no_request_gets_a_5xx_or_an_undocumented_answer(
    services: ProcessStack, service: str
) -> None:
    schema = load_schema(services.url(service))
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert operations, f"{service} documents no operation"
    failures: list[str] = []
    for operation in operations:
        for mode in GenerationMode:
            failure = fuzz(operation, mode)
            if failure is not None:
                failures.append(failure)
    assert not failures, "\n\n".join(failures)
