"""How what admins type becomes schema.org data and a meta description (no I/O)."""

import pytest

from talent_jobs.structured_data import (
    Address,
    address_of,
    description_html,
    employment_types,
    meta_description,
)


@pytest.mark.parametrize(
    ("typed", "values"),
    [
        ("Full-time", ["FULL_TIME"]),
        ("full time", ["FULL_TIME"]),
        ("FULL_TIME", ["FULL_TIME"]),
        ("Part-time", ["PART_TIME"]),
        ("part time", ["PART_TIME"]),
        ("PRN", ["PER_DIEM"]),
        ("Per diem", ["PER_DIEM"]),
        ("Contract", ["CONTRACTOR"]),
        ("Temporary", ["TEMPORARY"]),
        ("Internship", ["INTERN"]),
        ("Volunteer", ["VOLUNTEER"]),
    ],
)
def test_an_admins_employment_type_maps_to_its_schema_org_value(
    typed: str, values: list[str]
) -> None:
    assert employment_types(typed) == values


def test_several_employment_types_in_one_field_map_to_each_once() -> None:
    assert employment_types("Full-time or Part-time / full time, PRN") == [
        "FULL_TIME",
        "PART_TIME",
        "PER_DIEM",
    ]


def test_an_unknown_employment_type_is_other() -> None:
    assert employment_types("Rotating fellowship") == ["OTHER"]


def test_no_employment_type_gives_no_value() -> None:
    assert employment_types(None) == []


def test_city_and_region_take_the_default_country() -> None:
    assert address_of("Durham, NC", default_country="US") == Address(
        country="US", locality="Durham", region="NC"
    )


def test_a_named_country_wins_over_the_default() -> None:
    assert address_of("Toronto, ON, Canada", default_country="US") == Address(
        country="CA", locality="Toronto", region="ON"
    )


def test_a_zip_code_after_the_region_is_the_postal_code() -> None:
    assert address_of("Durham, NC 27710", default_country="US") == Address(
        country="US", locality="Durham", region="NC", postal_code="27710"
    )


def test_a_place_before_the_city_is_left_out() -> None:
    assert address_of("Duke Regional Hospital, Durham, NC", default_country="US") == Address(
        country="US", locality="Durham", region="NC"
    )


def test_a_city_alone_has_no_region() -> None:
    assert address_of("Durham", default_country="US") == Address(country="US", locality="Durham")


def test_remote_is_remote_in_the_default_country() -> None:
    assert address_of("Remote", default_country="US") == Address(country="US", remote=True)


def test_a_short_description_is_its_own_meta_description() -> None:
    assert meta_description("Night shift\n\nin the  ICU.") == "Night shift in the ICU."


def test_a_long_description_is_cut_at_a_word_within_155_characters() -> None:
    text = "Join our team at the Heart Center, " * 10
    description = meta_description(text)
    assert len(description) <= 155
    assert description.endswith("our team…")
    assert text.startswith(description.removesuffix("…"))


def test_the_html_description_keeps_paragraphs_and_line_breaks_and_escapes_text() -> None:
    text = "Nights <b>& weekends</b>\nBLS required.\n\nTuition assistance."
    assert description_html(text) == (
        "<p>Nights &lt;b&gt;&amp; weekends&lt;/b&gt;<br>BLS required.</p><p>Tuition assistance.</p>"
    )
