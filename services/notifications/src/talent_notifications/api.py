"""HTTP routes of the notifications service."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from talent_notifications import service
from talent_notifications.models import Deliveries, Delivery
from talent_notifications.runtime import NotificationsRuntime
from talent_shared.app import runtime_of
from talent_shared.http.auth import AdminOnly, CredentialsFirstRoute
from talent_shared.text import NO_NUL

router = APIRouter(prefix="/v1", route_class=CredentialsFirstRoute)

Runtime = Annotated[NotificationsRuntime, Depends(runtime_of(NotificationsRuntime))]


@router.get("/deliveries", dependencies=AdminOnly, tags=["deliveries"])
async def list_deliveries(
    runtime: Runtime,
    email: Annotated[
        str,
        Query(min_length=3, max_length=254, pattern=NO_NUL, description="recipient address"),
    ],
) -> Deliveries:
    """The delivery log of one address, oldest first (admin). Erased candidates' deliveries
    keep no address, so they are not found by it."""
    rows = await service.deliveries_to(pool=runtime.pool, email=email.strip())
    return Deliveries(
        items=[Delivery.model_validate({**dict(row), "to": row["to_address"]}) for row in rows]
    )
