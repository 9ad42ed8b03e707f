"""`python -m talent_jobs [serve|migrate]`."""

from talent_jobs.app import create_app
from talent_jobs.settings import JobsSettings
from talent_shared.app import run_service


def main() -> None:
    run_service(JobsSettings(), create_app, migrations="talent_jobs")


if __name__ == "__main__":
    main()
