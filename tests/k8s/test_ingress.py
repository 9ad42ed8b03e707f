"""The careers origin through the real Ingress controller: pages, the API, email."""

import pytest

from tests.k8s.cluster import Cluster, eventually, unique

pytestmark = pytest.mark.k8s


@pytest.mark.parametrize("path", ["/", "/jobs", "/preferences?token=x", "/talent.js"])
async def test_careers_site_page_is_served_through_the_ingress(cluster: Cluster, path: str) -> None:
    response = await cluster.site.get(path)
    print(f"GET {path}: {response.status_code} {response.headers.get('content-type')}")
    assert response.status_code == 200
    expected = "javascript" if path.endswith(".js") else "text/html"
    assert expected in response.headers["content-type"]


async def test_job_page_is_served_through_the_ingress(cluster: Cluster) -> None:
    job_id = await cluster.post_job(unique("Staff Nurse"))
    page = await cluster.site.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


async def test_home_page_has_the_three_widgets(cluster: Cluster) -> None:
    home = (await cluster.site.get("/")).text
    for widget in ("Talent Network", "Featured Jobs", "Recently Viewed Jobs"):
        assert widget in home


async def test_unknown_api_path_gets_the_gateway_json_404(cluster: Cluster) -> None:
    response = await cluster.site.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert "detail" in response.json()


async def test_job_view_shows_in_recently_viewed(cluster: Cluster) -> None:
    job_id = await cluster.post_job(unique("Charge Nurse"))
    visitor = unique("visitor")
    assert (await cluster.view(visitor, job_id)).status_code == 202

    async def shown() -> bool:
        return await cluster.recently_viewed(visitor) == [job_id]

    assert await eventually(shown, timeout=60, interval=0.5)


async def test_sign_up_welcome_reaches_the_mail_sink(cluster: Cluster) -> None:
    email = f"{unique('candidate')}@example.org"
    response = await cluster.sign_up(email)
    assert response.status_code == 201, response.text

    async def welcomed() -> bool:
        return (await cluster.welcome_counts()).get(email) == 1

    assert await eventually(welcomed, timeout=90, interval=1)


async def test_sign_up_limit_counts_each_visitor_address_behind_the_ingress(
    cluster: Cluster,
) -> None:
    """The per-address limit (20/minute, fixed windows) sees the visitor's address the load
    balancer names in X-Forwarded-For, not the Ingress controller's. 41 sign-ups from one
    address within a minute put at least 21 in one window; another address is not limited."""
    limited = {"X-Forwarded-For": "203.0.113.7"}
    answers = []
    for _ in range(41):
        response = await cluster.sign_up(f"{unique('limited')}@example.org", headers=limited)
        answers.append(response.status_code)
    print(
        f"41 sign-ups from one address: {answers.count(201)} accepted, "
        f"{answers.count(429)} refused with 429"
    )
    assert set(answers) == {201, 429}
    other = await cluster.sign_up(
        f"{unique('other')}@example.org", headers={"X-Forwarded-For": "203.0.113.8"}
    )
    assert other.status_code == 201, other.text
