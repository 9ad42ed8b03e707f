"""`python -m talent_signup [serve|migrate]`."""

from talent_shared.app import run_service
from talent_signup.app import create_app
from talent_signup.settings import SignupSettings


def main() -> None:
    run_service(SignupSettings(), create_app, migrations="talent_signup")


if __name__ == "__main__":
    main()
