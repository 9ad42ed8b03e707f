"""Events the notifications tests feed the service, as signup and jobs would publish them."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from talent_shared.envelope import Event, new_event
from talent_shared.events import CandidateErased, CandidateSignedUp, JobPosted


def signed_up(candidate_id: uuid.UUID, category: str, frequency: str = "instant") -> Event[Any]:
    data = CandidateSignedUp(
        candidate_id=candidate_id,
        email=f"{candidate_id.hex[:12]}@example.org",
        first_name="Ada",
        last_name="Lovelace",
        interests=[category],
        alert_frequency=frequency,
        signed_up_at=datetime.now(UTC),
    )
    return new_event(data, producer="signup")


def erased(candidate_id: uuid.UUID) -> Event[Any]:
    data = CandidateErased(candidate_id=candidate_id, erased_at=datetime.now(UTC))
    return new_event(data, producer="signup")


def job_event(job_id: uuid.UUID, category: str, kind: type[JobPosted] = JobPosted) -> Event[Any]:
    # A moment after "now": the job changed after whatever candidate event the test made before.
    changed = datetime.now(UTC) + timedelta(milliseconds=1)
    data = kind(
        job_id=job_id,
        title="Registered Nurse",
        category=category,
        location="Durham, NC",
        description="Nights on the ICU",
        posted_at=changed,
        updated_at=changed,
    )
    return new_event(data, producer="jobs")
