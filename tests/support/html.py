"""Reading pages as a crawler or a link preview does: no JavaScript, only the HTML."""

from typing import Any

import extruct
import lxml.html


def parse(page: str) -> Any:
    """The page's element tree (lxml), for XPath and CSS-like look-ups."""
    return lxml.html.fromstring(page)


def text_of(page: str, xpath: str) -> list[str]:
    """The text content of each element ``xpath`` finds, whitespace collapsed."""
    return [" ".join(element.text_content().split()) for element in parse(page).xpath(xpath)]


def meta(page: str, name: str) -> str | None:
    """The content of ``<meta name=...>`` (or ``property=``, as Open Graph names them)."""
    found = parse(page).xpath(f"//meta[@name='{name}' or @property='{name}']/@content")
    return str(found[0]) if found else None


def canonical(page: str) -> str | None:
    found = parse(page).xpath("//link[@rel='canonical']/@href")
    return str(found[0]) if found else None


def structured_data(page: str, url: str) -> dict[str, list[dict[str, Any]]]:
    """What extruct (an extractor independent of ours) reads: JSON-LD items and Open Graph."""
    extracted: dict[str, list[dict[str, Any]]] = extruct.extract(
        page, base_url=url, syntaxes=["json-ld", "opengraph"], uniform=True
    )
    return extracted


def job_postings(page: str, url: str) -> list[dict[str, Any]]:
    return [
        item for item in structured_data(page, url)["json-ld"] if item.get("@type") == "JobPosting"
    ]
