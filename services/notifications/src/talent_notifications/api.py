"""HTTP routes of the notifications service."""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status

from talent_notifications import delivery_log, suppression
from talent_notifications.models import Deliveries, Delivery, FeedbackApplied
from talent_notifications.runtime import NotificationsRuntime
from talent_shared.app import runtime_of
from talent_shared.http.auth import api_router
from talent_shared.http.common import CorrelationId, described
from talent_shared.text import NO_NUL

admin = api_router("deliveries", admin=True)
ROUTERS = (admin,)

Runtime = Annotated[NotificationsRuntime, Depends(runtime_of(NotificationsRuntime))]
RFC822 = "message/rfc822"
MAX_REPORT_BYTES = 1024 * 1024  # a report may return the whole original message


@admin.get("/deliveries")
async def list_deliveries(
    runtime: Runtime,
    email: Annotated[
        str,
        Query(min_length=3, max_length=254, pattern=NO_NUL, description="recipient address"),
    ],
) -> Deliveries:
    """The delivery log of one address, oldest first (admin). Erased candidates' deliveries
    keep no address, so they are not found by it."""
    async with runtime.pool.acquire() as connection:
        rows = await delivery_log.deliveries_to(connection, email.strip())
    return Deliveries(
        items=[Delivery.model_validate({**dict(row), "to": row["to_address"]}) for row in rows]
    )


REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {RFC822: {"schema": {"type": "string", "format": "binary"}}},
        "description": "one whole message: a delivery status notification (RFC 3464) or a "
        "feedback report (RFC 5965), as the bounce mailbox received it",
    }
}


@admin.post(
    "/email-feedback",
    openapi_extra=REPORT_BODY,
    responses=described(415, f"the body is not sent as {RFC822}"),
)
async def email_feedback(
    request: Request, runtime: Runtime, correlation_id: CorrelationId
) -> FeedbackApplied:
    """Take a bounce or a complaint (admin): a permanent failure suppresses the address of the
    delivery it names, a complaint suppresses it and unsubscribes the candidate. A report about
    none of our deliveries changes nothing (`kind: ignored`)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != RFC822:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send the report as {RFC822}")
    outcome = await suppression.ingest_feedback(
        runtime.relay,
        await request.body(),
        correlation_id,
        bounce_address=runtime.emails.bounce_address,
        message_domain=runtime.emails.domain,
    )
    return FeedbackApplied(**asdict(outcome))


BODY_LIMITS = {email_feedback: MAX_REPORT_BYTES}
