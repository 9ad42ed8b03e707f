"""The careers site's pages, rendered from the catalogue: the home page, the search page, a
job's page (with its JobPosting), the sitemap and robots.txt.

They live in the jobs service because it owns the catalogue: a page reads the service's own
database, so it is as current as the catalogue, and no other deployable is needed. Templates are
Jinja2, autoescaped: no text a visitor or an admin typed reaches a page unescaped. JavaScript
only enhances the pages (recently viewed, the view beacon, the sign-up form)."""

import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from talent_jobs import service
from talent_jobs.models import Job
from talent_jobs.pagination import InvalidCursorError
from talent_jobs.repository import JobFilters
from talent_jobs.runtime import JobsRuntime
from talent_jobs.structured_data import Organization, job_posting, meta_description
from talent_shared.app import runtime_of
from talent_shared.errors import is_transient

FEATURED_ON_HOME = 6
RESULTS_PER_PAGE = 20
# A sitemap file holds at most 50,000 URLs: the newest open jobs, with / and /jobs.
SITEMAP_MAX_URLS = 50_000
PAGE_METHODS = ["GET", "HEAD"]
# The gateway's policy (deploy/gateway/routes.py), sent by the service too: in Kubernetes the
# Ingress sends the pages here directly. Nothing inline runs; JSON-LD is data, not a script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Text the contract refuses in what reaches a page: C0 and C1 controls, line and paragraph
# separators, bidi controls.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

_templates = Environment(
    loader=PackageLoader("talent_jobs", "templates"),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
Runtime = Annotated[JobsRuntime, Depends(runtime_of(JobsRuntime))]


class PageRoute(APIRoute):
    """A page's route: the site's response headers on every answer, and a page for people
    (503, try again shortly) instead of the API's JSON when the database is briefly away."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_page(request: Request) -> Response:
            try:
                response = await handle(request)
            except Exception as error:
                if not is_transient(error):
                    raise
                response = _unavailable(request.app.state.runtime)
            response.headers.update(PAGE_HEADERS)
            return response

        return handle_page


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _posted_on(moment: datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment.year}"


_templates.filters["posted_on"] = _posted_on


def _render(
    runtime: JobsRuntime, template: str, *, path: str | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """The page; ``path`` is its canonical path (None: the page has no canonical URL)."""
    settings = runtime.settings
    base_url = settings.public_base_url.rstrip("/")
    html = _templates.get_template(template).render(
        organization=settings.hiring_organization_name,
        canonical_url=f"{base_url}{path}" if path is not None else None,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _unavailable(runtime: JobsRuntime) -> HTMLResponse:
    response = _render(runtime, "unavailable.html", path=None, status=503)
    response.headers["Retry-After"] = "5"
    return response


def _not_found(runtime: JobsRuntime, heading: str) -> HTMLResponse:
    return _render(runtime, "not_found.html", path=None, status=404, heading=heading)


@router.api_route("/", methods=PAGE_METHODS)
async def home(runtime: Runtime) -> HTMLResponse:
    featured = await service.list_jobs(
        pool=runtime.pool, filters=JobFilters(featured=True), cursor=None, limit=FEATURED_ON_HOME
    )
    facets = await service.job_facets(pool=runtime.pool)
    return _render(runtime, "home.html", path="/", featured=featured.items, facets=facets)


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class SearchForm(BaseModel):
    """The search page's query: what the form sends, and the cursor of a next page. Other
    parameters (a shared link's utm_source...) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=100)
    location: str | None = Field(default=None, max_length=200)
    cursor: str | None = Field(default=None, max_length=500)

    @field_validator("q", "category", "location", "cursor", mode="before")
    @classmethod
    def _empty_means_any(cls, value: object) -> object:
        return _blank_is_none(value)

    @field_validator("q", "category", "location", "cursor")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        if value is not None and CONTROL_CHARACTERS.search(value):
            raise ValueError("holds control characters")
        return value

    def filters(self) -> JobFilters:
        return JobFilters(category=self.category, location=self.location, q=self.q)

    @property
    def filtered(self) -> bool:
        return any((self.q, self.category, self.location))

    def link(self, **changes: str | None) -> str:
        """/jobs with this search's parameters, changed by ``changes`` (None: left out)."""
        fields = {**self.model_dump(exclude={"cursor"}), "cursor": None, **changes}
        query = urlencode({name: value for name, value in fields.items() if value})
        return f"/jobs?{query}" if query else "/jobs"


async def _search_page(
    runtime: JobsRuntime, form: SearchForm, *, status: int = 200, problem: str | None = None
) -> HTMLResponse:
    """The search form and, unless there is a ``problem``, a page of its results."""
    results = count = None
    if problem is None:
        results = await service.list_jobs(
            pool=runtime.pool, filters=form.filters(), cursor=form.cursor, limit=RESULTS_PER_PAGE
        )
        count = await service.count_jobs(pool=runtime.pool, filters=form.filters())
    facets = await service.job_facets(pool=runtime.pool)
    return _render(
        runtime,
        "search.html",
        path="/jobs",
        status=status,
        form=form,
        results=results,
        count=count,
        facets=facets,
        problem=problem,
    )


@router.api_route("/jobs", methods=PAGE_METHODS)
async def search(request: Request, runtime: Runtime) -> HTMLResponse:
    try:
        form = SearchForm.model_validate(dict(request.query_params))
    except ValidationError:
        problem = "We could not search for that: use shorter words, without control characters."
        return await _search_page(runtime, SearchForm(), status=400, problem=problem)
    try:
        return await _search_page(runtime, form)
    except InvalidCursorError:
        problem = "This page of results is no longer available: start from the first page."
        first_page = form.model_copy(update={"cursor": None})
        return await _search_page(runtime, first_page, status=400, problem=problem)


def _job_page(runtime: JobsRuntime, job: Job) -> HTMLResponse:
    settings = runtime.settings
    path = f"/jobs/{job.job_id}"
    posting = job_posting(
        job,
        url=f"{settings.public_base_url.rstrip('/')}{path}",
        organization=Organization(
            name=settings.hiring_organization_name, url=settings.hiring_organization_url
        ),
        default_country=settings.job_address_country,
    )
    return _render(
        runtime,
        "job.html",
        path=path,
        job=job,
        posting=posting,
        description=meta_description(job.description),
    )


@router.api_route("/jobs/{job_id}", methods=PAGE_METHODS)
async def job_page(job_id: str, runtime: Runtime) -> HTMLResponse:
    """An open job's page; a closed one is gone for good (410), an unknown one 404."""
    try:
        job = await service.get_job(pool=runtime.pool, job_id=UUID(job_id))
    except (ValueError, service.JobNotFoundError):
        return _not_found(runtime, "Job not found")
    if job.status == "closed":
        return _render(runtime, "job_closed.html", path=None, status=410, job=job)
    return _job_page(runtime, job)


@router.api_route("/jobs/{anything:path}", methods=PAGE_METHODS)
async def no_such_page(runtime: Runtime) -> HTMLResponse:
    return _not_found(runtime, "Page not found")


@router.api_route("/sitemap.xml", methods=PAGE_METHODS)
async def sitemap(runtime: Runtime) -> Response:
    """Every open job's page with its last change, read from the catalogue at each request."""
    entries = await service.sitemap_entries(pool=runtime.pool, limit=SITEMAP_MAX_URLS)
    xml = _templates.get_template("sitemap.xml").render(
        base_url=runtime.settings.public_base_url.rstrip("/"), entries=entries
    )
    return Response(xml, media_type="application/xml")


@router.api_route("/robots.txt", methods=PAGE_METHODS)
async def robots(runtime: Runtime) -> Response:
    text = _templates.get_template("robots.txt").render(
        base_url=runtime.settings.public_base_url.rstrip("/")
    )
    return Response(text, media_type="text/plain")
