"""Every service serves /asyncapi.json (a valid AsyncAPI 3.0 document of what it publishes and
consumes, with the events' payload schemas) and /asyncapi (a page loading nothing from outside)."""

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic_asyncapi.v3 import AsyncAPI

from talent_shared.envelope import new_event
from talent_shared.events import (
    CANDIDATES_TOPIC,
    EVENT_TYPES,
    FEEDBACK_TOPIC,
    POSTINGS_TOPIC,
    VIEWS_TOPIC,
    JobViewed,
)
from tests.support.fixtures import Stack

pytestmark = pytest.mark.integration

SENDS_AND_RECEIVES = {
    "signup": ({CANDIDATES_TOPIC, f"{FEEDBACK_TOPIC}.dlq"}, {FEEDBACK_TOPIC}),
    "jobs": (
        {POSTINGS_TOPIC, VIEWS_TOPIC, f"{CANDIDATES_TOPIC}.dlq", f"{VIEWS_TOPIC}.dlq"},
        {CANDIDATES_TOPIC, VIEWS_TOPIC},
    ),
    "notifications": (
        {FEEDBACK_TOPIC, f"{CANDIDATES_TOPIC}.dlq", f"{POSTINGS_TOPIC}.dlq"},
        {CANDIDATES_TOPIC, POSTINGS_TOPIC},
    ),
}


def client_of(stack: Stack, service: str) -> httpx.AsyncClient:
    client: httpx.AsyncClient = getattr(stack, service)
    return client


async def document_of(stack: Stack, service: str) -> dict[str, Any]:
    response = await client_of(stack, service).get("/asyncapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def resolve(document: dict[str, Any], reference: str) -> Any:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[part]
    return resolve(document, node["$ref"]) if set(node) == {"$ref"} else node


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def operations(document: dict[str, Any], action: str) -> dict[str, dict[str, Any]]:
    """Topic -> the payload schema of the message of each ``action`` operation on it."""
    found = {}
    for operation in document["operations"].values():
        if operation["action"] == action:
            channel = resolve(document, operation["channel"]["$ref"])
            [message_ref] = operation["messages"]
            found[channel["address"]] = resolve(document, message_ref["$ref"])["payload"]
    return found


def sample_event(event_type: str) -> dict[str, Any]:
    """A wire event of ``event_type``, built from its model's own example-free schema fields."""
    data_type = EVENT_TYPES[event_type]
    values: dict[str, Any] = {}
    for name, field in data_type.model_fields.items():
        if not field.is_required():
            continue
        annotation = str(field.annotation)
        if "UUID" in annotation:
            values[name] = uuid.uuid4()
        elif "datetime" in annotation.lower():
            values[name] = datetime.now(UTC)
        else:
            values[name] = f"{name}-value"
    event = new_event(data_type.model_validate(values), producer="test")
    return event.envelope.model_dump(mode="json")


def validator(document: dict[str, Any], payload: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**payload, "components": document["components"]})


@pytest.mark.parametrize("service", sorted(SENDS_AND_RECEIVES))
async def test_asyncapi_document_is_valid_asyncapi_3(stack: Stack, service: str) -> None:
    document = await document_of(stack, service)
    assert document["asyncapi"] == "3.0.0"
    AsyncAPI.model_validate(document)
    for reference in references(document):
        assert reference.startswith("#/"), reference
        resolve(document, reference)  # raises KeyError when it points nowhere


@pytest.mark.parametrize("service", sorted(SENDS_AND_RECEIVES))
async def test_asyncapi_document_names_every_topic_the_service_publishes_and_consumes(
    stack: Stack, service: str
) -> None:
    document = await document_of(stack, service)
    sends, receives = SENDS_AND_RECEIVES[service]
    assert set(operations(document, "send")) == sends
    assert set(operations(document, "receive")) == receives


@pytest.mark.parametrize("service", sorted(SENDS_AND_RECEIVES))
async def test_asyncapi_payload_schemas_accept_every_event_of_their_topic_and_no_other(
    stack: Stack, service: str
) -> None:
    document = await document_of(stack, service)
    sends, receives = SENDS_AND_RECEIVES[service]
    payloads = {**operations(document, "send"), **operations(document, "receive")}
    for topic in (sends | receives) - {t for t in sends if t.endswith(".dlq")}:
        schema = validator(document, payloads[topic])
        for event_type, data_type in EVENT_TYPES.items():
            errors = list(schema.iter_errors(sample_event(event_type)))
            if data_type.topic == topic:
                assert not errors, (topic, event_type, errors[:1])
            else:
                assert errors, f"{topic} accepts {event_type}"


async def test_asyncapi_payload_schema_rejects_an_event_with_missing_data(stack: Stack) -> None:
    document = await document_of(stack, "jobs")
    event = new_event(
        JobViewed(visitor_id="v-1", job_id=uuid.uuid4(), viewed_at=datetime.now(UTC)),
        producer="test",
    ).envelope.model_dump(mode="json")
    del event["data"]["job_id"]
    schema = validator(document, operations(document, "receive")[VIEWS_TOPIC])
    assert list(schema.iter_errors(event))


@pytest.mark.parametrize("service", sorted(SENDS_AND_RECEIVES))
async def test_asyncapi_page_shows_the_topics_and_loads_nothing_from_outside(
    stack: Stack, service: str
) -> None:
    response = await client_of(stack, service).get("/asyncapi")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "<script" not in page.lower()
    assert "@import" not in page
    assert "url(" not in page
    links = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)""", page, flags=re.IGNORECASE)
    assert links == ["asyncapi.json"]
    sends, receives = SENDS_AND_RECEIVES[service]
    for topic in sends | receives:
        assert f"<code>{topic}</code>" in page
    published = {t for t in sends if not t.endswith(".dlq")}
    for event_type, data_type in EVENT_TYPES.items():
        if data_type.topic in published:
            assert f"{event_type}Event" in page
