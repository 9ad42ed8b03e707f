"""The small HTML pages of the unsubscribe flow (Jinja2, autoescaped)."""

from jinja2 import Environment, PackageLoader, select_autoescape

_templates = Environment(
    loader=PackageLoader("talent_signup", "templates"), autoescape=select_autoescape()
)


def unsubscribe_page(*, heading: str, message: str, form_action: str | None = None) -> str:
    return _templates.get_template("unsubscribe_confirm.html").render(
        heading=heading, message=message, form_action=form_action
    )
