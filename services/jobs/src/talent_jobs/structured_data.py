"""What search engines and link previews read from a job's page: the schema.org JobPosting
(JSON-LD), its employment types and address, and the meta description, made from what admins
typed into the catalogue."""

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from talent_jobs.models import Job

# schema.org/Google's employmentType values, by what admins type for them (letters only, lower
# case: "Full-time", "full time" and "FULL_TIME" are all "fulltime").
EMPLOYMENT_TYPES = {
    "fulltime": "FULL_TIME",
    "ft": "FULL_TIME",
    "parttime": "PART_TIME",
    "pt": "PART_TIME",
    "prn": "PER_DIEM",
    "perdiem": "PER_DIEM",
    "asneeded": "PER_DIEM",
    "contract": "CONTRACTOR",
    "contractor": "CONTRACTOR",
    "temporary": "TEMPORARY",
    "temp": "TEMPORARY",
    "seasonal": "TEMPORARY",
    "intern": "INTERN",
    "internship": "INTERN",
    "volunteer": "VOLUNTEER",
}
# Several types in one field: "Full-time or Part-time", "Full-time / PRN", "FT, PT".
EMPLOYMENT_TYPE_SEPARATORS = re.compile(r"[,/;&+|]|\bor\b|\band\b", re.IGNORECASE)
REMOTE_LOCATIONS = frozenset({"remote", "telecommute", "work from home", "anywhere"})
# Spellings of a country admins may add as a third part ("Durham, NC, USA"), as ISO 3166 codes.
COUNTRY_CODES = {
    "us": "US",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states": "US",
    "united states of america": "US",
    "ca": "CA",
    "canada": "CA",
}
REGION_AND_POSTAL_CODE = re.compile(r"^(?P<region>.*?)\s+(?P<postal_code>\d{5}(?:-\d{4})?)$")
META_DESCRIPTION_LENGTH = 155


@dataclass(frozen=True)
class Organization:
    name: str
    url: str


@dataclass(frozen=True)
class Address:
    """Where a job is, as far as its location text tells (``City, Region[ ZIP][, Country]``)."""

    country: str
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    remote: bool = False


def employment_types(typed: str | None) -> list[str]:
    """schema.org values for an admin's employment type; one it does not know is ``OTHER``."""
    if typed is None:
        return []
    found: list[str] = []
    for part in EMPLOYMENT_TYPE_SEPARATORS.split(typed):
        letters = re.sub(r"[^a-z]", "", part.lower())
        if letters:
            value = EMPLOYMENT_TYPES.get(letters, "OTHER")
            if value not in found:
                found.append(value)
    return found


def address_of(location: str, *, default_country: str) -> Address:
    """``Durham, NC`` -> Durham, NC, the default country; ``Remote`` -> remote in that country."""
    if location.strip().lower() in REMOTE_LOCATIONS:
        return Address(country=default_country, remote=True)
    parts = [part.strip() for part in location.split(",") if part.strip()]
    country = default_country
    if len(parts) >= 3 and parts[-1].lower() in COUNTRY_CODES:
        country = COUNTRY_CODES[parts.pop().lower()]
    if len(parts) < 2:
        return Address(country=country, locality=parts[0] if parts else None)
    locality, region = parts[-2], parts[-1]
    postal = REGION_AND_POSTAL_CODE.match(region)
    if postal is None:
        return Address(country=country, locality=locality, region=region)
    return Address(
        country=country,
        locality=locality,
        region=postal.group("region"),
        postal_code=postal.group("postal_code"),
    )


def meta_description(text: str) -> str:
    """The job's text on one line, cut at a word within what search results show."""
    line = " ".join(text.split())
    if len(line) <= META_DESCRIPTION_LENGTH:
        return line
    cut = line[: META_DESCRIPTION_LENGTH - 1]
    return cut[: cut.rfind(" ")].rstrip(" ,.;:") + "…" if " " in cut else cut + "…"


def description_html(text: str) -> str:
    """The description as the HTML JobPosting asks for: a paragraph per blank-line-separated
    block, ``<br>`` for the other line breaks, the text itself escaped."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in block.splitlines()) + "</p>"
        for block in blocks
    )


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _postal_address(address: Address) -> dict[str, str]:
    fields = {
        "addressLocality": address.locality,
        "addressRegion": address.region,
        "postalCode": address.postal_code,
        "addressCountry": address.country,
    }
    return {"@type": "PostalAddress", **{k: v for k, v in fields.items() if v is not None}}


def _where(address: Address) -> dict[str, Any]:
    place = {"jobLocation": {"@type": "Place", "address": _postal_address(address)}}
    if not address.remote:
        return place
    return {
        **place,
        "jobLocationType": "TELECOMMUTE",
        "applicantLocationRequirements": {"@type": "Country", "name": address.country},
    }


def job_posting(
    job: Job, *, url: str, organization: Organization, default_country: str
) -> dict[str, Any]:
    """The schema.org JobPosting of an open job. The catalogue has no closing date, so there
    is no ``validThrough``: a closed job's page is a 410 without a JobPosting instead."""
    posting: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": job.title,
        "description": description_html(job.description),
        "datePosted": _timestamp(job.posted_at),
        "hiringOrganization": {
            "@type": "Organization",
            "name": organization.name,
            "sameAs": organization.url,
        },
        **_where(address_of(job.location, default_country=default_country)),
        "directApply": False,  # the page describes the job; applying happens elsewhere
        "url": url,
    }
    if job.employment_type is not None:
        posting["employmentType"] = employment_types(job.employment_type)
    if job.requisition_id is not None:
        posting["identifier"] = {
            "@type": "PropertyValue",
            "name": organization.name,
            "value": job.requisition_id,
        }
    return posting
