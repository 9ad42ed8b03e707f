"""Structured JSON logs with the service bound and personal data redacted."""

import io
import json
import logging

import pytest
import structlog

from talent_shared.logging import configure_logging, get_logger, redact_text


@pytest.fixture
def json_lines():  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    configure_logging(service="jobs", level="INFO", stream=stream)

    def read() -> list[dict[str, object]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield read
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_log_line_is_json_with_service_and_level(json_lines) -> None:  # type: ignore[no-untyped-def]
    get_logger("test").info("job posted", job_id="j-1")
    [line] = json_lines()
    assert line["event"] == "job posted"
    assert line["service"] == "jobs"
    assert line["level"] == "info"
    assert line["job_id"] == "j-1"


def test_bound_event_and_correlation_ids_appear(json_lines) -> None:  # type: ignore[no-untyped-def]
    with structlog.contextvars.bound_contextvars(event_id="e-1", correlation_id="c-1"):
        get_logger("test").info("handled")
    [line] = json_lines()
    assert (line["event_id"], line["correlation_id"]) == ("e-1", "c-1")


def test_email_address_never_reaches_the_log(json_lines) -> None:  # type: ignore[no-untyped-def]
    get_logger("test").info("welcome sent to ada@example.org", note="cc bob@example.com")
    output = json.dumps(json_lines())
    assert "ada@example.org" not in output
    assert "bob@example.com" not in output


def test_secret_keys_are_masked(json_lines) -> None:  # type: ignore[no-untyped-def]
    get_logger("test").info("request", token="abc123", email="ada@example.org", password="pw")
    [line] = json_lines()
    assert line["token"] == line["email"] == line["password"] == "[redacted]"


def test_standard_library_loggers_are_redacted_too(json_lines) -> None:  # type: ignore[no-untyped-def]
    logging.getLogger("uvicorn.error").warning("GET /v1/unsubscribe?token=s3cr3t.sig from x@y.org")
    [line] = json_lines()
    assert "s3cr3t" not in line["event"]
    assert "x@y.org" not in line["event"]
    assert line["service"] == "jobs"


def test_bearer_token_is_redacted_in_text() -> None:
    assert "tok" not in redact_text("Authorization: Bearer tok")
