"""Malformed request bodies and bodies over the limit, against the services as processes:
4xx JSON answers (413 past 64 KiB), never a 500."""

import json
from collections.abc import Iterator

import pytest

from devsupport.services import ADMIN_HEADERS
from tests.robustness.bad_input import (
    CLIENT_ERROR,
    JSON_CONTENT,
    JSON_ENDPOINTS,
    MAX_BODY_BYTES,
    SIGN_UP,
    Api,
    Endpoint,
    assert_json_error,
)

pytestmark = [pytest.mark.robustness, pytest.mark.integration]


MALFORMED_JSON = [
    "{",
    '{"title": }',
    "not json",
    "[1, 2",
    '{"a": 1,}',
    "{'single': 'quotes'}",
    '{"unterminated": "string}',
    '{"a" 1}',
]


@pytest.mark.parametrize("body", MALFORMED_JSON)
@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_malformed_json_is_422(api: Api, endpoint: Endpoint, body: str) -> None:
    assert_json_error(api.call_json(endpoint, body), 422)


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_json_body_that_is_not_utf8_is_422(api: Api, endpoint: Endpoint) -> None:
    """JSON text is UTF-8 (RFC 8259): other bytes make a malformed body, 422 like any other."""
    assert_json_error(api.call_json(endpoint, b'{"title": "caf\xe9 \xff\xfe"}'), 422)


MULTIPART_BODY = '--xyz\r\nContent-Disposition: form-data; name="title"\r\n\r\nNurse\r\n--xyz--\r\n'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", '{"title": "Nurse"}'),
        ("application/x-www-form-urlencoded", "title=Nurse&category=Nursing"),
        ("multipart/form-data; boundary=xyz", MULTIPART_BODY),
        ("application/xml", "<job><title>Nurse</title></job>"),
    ],
    ids=["text", "form", "multipart", "xml"],
)
@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_wrong_content_type_is_4xx(
    api: Api, endpoint: Endpoint, content_type: str, body: str
) -> None:
    response = api.call(endpoint, content=body, headers={"Content-Type": content_type})
    assert_json_error(response, CLIENT_ERROR)


# --------------------------------------------------------------------------- body size


def oversized_body() -> bytes:
    body = json.dumps({"title": "x" * (MAX_BODY_BYTES + 1024)}).encode()
    assert len(body) > MAX_BODY_BYTES
    return body


def in_chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """A streamed body: httpx sends it chunked, with no Content-Length to reject it early."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_body_over_64_kib_with_declared_length_is_413(api: Api, endpoint: Endpoint) -> None:
    response = api.call(endpoint, content=oversized_body(), headers=JSON_CONTENT)
    assert_json_error(response, 413)


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=str)
def test_body_over_64_kib_sent_chunked_is_413(api: Api, endpoint: Endpoint) -> None:
    request = api.http.build_request(
        endpoint.method,
        api.url(endpoint),
        content=in_chunks(oversized_body()),
        headers={**JSON_CONTENT, **(ADMIN_HEADERS if endpoint.admin else {})},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert_json_error(api.http.send(request), 413)


def test_body_of_exactly_64_kib_is_accepted(api: Api) -> None:
    body = json.dumps(api.valid_body(SIGN_UP)).encode()
    padded = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_BODY_BYTES
    assert api.call_json(SIGN_UP, padded).status_code == 201
