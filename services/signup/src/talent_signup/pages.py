"""The small HTML pages of the unsubscribe and confirmation flows (Jinja2, autoescaped)."""

from jinja2 import Environment, PackageLoader, select_autoescape

_templates = Environment(
    loader=PackageLoader("talent_signup", "templates"), autoescape=select_autoescape()
)


def unsubscribe_page(*, heading: str, message: str, form_action: str | None = None) -> str:
    return _templates.get_template("unsubscribe_confirm.html").render(
        heading=heading, message=message, form_action=form_action
    )


def confirmation_page(*, heading: str, message: str, form_action: str | None = None) -> str:
    """The double opt-in link's page: a button that POSTs, so opening the link confirms nothing."""
    return _templates.get_template("signup_confirm.html").render(
        heading=heading, message=message, form_action=form_action
    )
