from typing import ClassVar

from pydantic import Field, PositiveInt

from talent_shared.settings import ServiceSettings, own_database, own_http_port


class JobsSettings(ServiceSettings):
    service_name: ClassVar[str] = "jobs"

    database_url: str = own_database(service_name)
    http_port: int = own_http_port(service_name, 8002)
    # Jobs kept per visitor in the recently-viewed projection (the API serves at most 50).
    recently_viewed_kept: int = Field(default=50, ge=50)
    # Most views the projector applies in one database round trip (2,000 over 500: +20-37%
    # events/s in paired bench runs; the per-batch costs, FastStream, commit, trim, amortise).
    projector_batch_size: PositiveInt = 2000
    # Whether this process runs the recently-viewed projector. Off, it serves HTTP (and takes
    # erasures) without consuming job views, so ingest and projection can run as separate
    # processes: the projector then no longer waits behind the HTTP requests of one event loop.
    run_projector: bool = True
    # Who hires, in every job's JobPosting (hiringOrganization: name, sameAs) and page titles.
    hiring_organization_name: str = Field(default="Example Health", min_length=1)
    hiring_organization_url: str = Field(
        default="https://www.example.org", pattern=r"^https?://[^\s/?#]+[^\s]*$"
    )
    # The ISO 3166-1 country of a job whose location names none ("Durham, NC"), for JobPosting.
    job_address_country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
