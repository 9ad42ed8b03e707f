"""`python -m talent_notifications [serve|migrate]`."""

from talent_notifications.app import create_app
from talent_notifications.settings import NotificationsSettings
from talent_shared.app import run_service


def main() -> None:
    run_service(NotificationsSettings(), create_app, migrations="talent_notifications")


if __name__ == "__main__":
    main()
