"""Unknown paths, methods and ids against the services as processes: JSON 404, 405 and 422."""

import uuid

import pytest

from devsupport.services import ADMIN_HEADERS
from tests.robustness.bad_input import (
    CLOSE_JOB,
    ERASE,
    GET_CANDIDATE,
    GET_JOB,
    JOB_VIEW,
    JSON_ENDPOINTS,
    PATCH_JOB,
    PREFERENCES,
    Api,
    Endpoint,
    assert_422_naming,
    assert_json_error,
)
from tests.robustness.stack import SERVICES

pytestmark = [pytest.mark.robustness, pytest.mark.integration]


@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v1/jobs/a/b/c", "/v1/", "/%ff"])
@pytest.mark.parametrize("service", SERVICES)
def test_unknown_path_is_404_json(api: Api, service: str, path: str) -> None:
    response = api.http.get(api.services.url(service) + path, headers=ADMIN_HEADERS)
    assert_json_error(response, 404)
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    "endpoint",
    [
        Endpoint("signup", "PUT", "/v1/signups"),
        Endpoint("jobs", "DELETE", "/v1/jobs", admin=True),
        Endpoint("notifications", "POST", "/v1/deliveries", admin=True),
    ],
    ids=str,
)
def test_unsupported_method_is_405_json(api: Api, endpoint: Endpoint) -> None:
    assert_json_error(api.call(endpoint), 405)


ID_ENDPOINTS = [GET_CANDIDATE, PREFERENCES, ERASE, GET_JOB, PATCH_JOB, CLOSE_JOB]


@pytest.mark.parametrize("endpoint", ID_ENDPOINTS, ids=str)
def test_unknown_id_is_404_json(api: Api, endpoint: Endpoint) -> None:
    unknown = str(uuid.uuid4())
    body = api.valid_body(endpoint) if endpoint in JSON_ENDPOINTS else None
    response = api.call(endpoint, json=body, ids={"candidate_id": unknown, "job_id": unknown})
    assert_json_error(response, 404)
    assert unknown in response.json()["detail"]


def test_job_view_of_an_unknown_job_is_404_json(api: Api) -> None:
    body = {**api.valid_body(JOB_VIEW), "job_id": str(uuid.uuid4())}
    assert_json_error(api.call(JOB_VIEW, json=body), 404)


@pytest.mark.parametrize("endpoint", ID_ENDPOINTS, ids=str)
def test_malformed_id_is_422_naming_it(api: Api, endpoint: Endpoint) -> None:
    body = api.valid_body(endpoint) if endpoint in JSON_ENDPOINTS else None
    ids = {"candidate_id": "not-a-uuid", "job_id": "not-a-uuid"}
    name = "candidate_id" if endpoint.service == "signup" else "job_id"
    assert_422_naming(api.call(endpoint, json=body, ids=ids), name)
