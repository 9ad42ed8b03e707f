"""Where this checkout's PostgreSQL cluster lives, which binaries run it, and as whom.

The server refuses to run as root, so as root it runs as the `postgres` user (made by Debian's
package; its database superuser has the same name, so peer authentication works). When that
user cannot reach the checkout (a clone under a private 0700 directory, such as /root), the
cluster lives in its home instead, one folder per checkout:
~postgres/talent-network/<checkout name>-<hash of its path>/, with a file `checkout` naming
it. Nothing removes that folder but you, and no permission of your directories is changed.
"""

import hashlib
import os
import pwd
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.local.apt import install_debian_package
from deploy.local.config import Config, RunnerError, say

INSTALLED = Path("/usr/lib/postgresql")
SOCKET_PATH_LIMIT = 100  # a unix socket's path holds about 107 bytes


@dataclass(frozen=True)
class ServerUser:
    name: str
    uid: int
    gid: int
    home: Path
    as_user: tuple[str, ...]  # the prefix that runs a command as this user

    @classmethod
    def for_this_process(cls) -> "ServerUser":
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid())
            return cls(me.pw_name, me.pw_uid, me.pw_gid, Path(me.pw_dir), ())
        try:
            postgres = pwd.getpwnam("postgres")
        except KeyError:
            raise RunnerError("there is no `postgres` user (apt-get install postgresql)") from None
        # From /: the checkout may be out of its reach, and initdb, pg_ctl and psql complain
        # about a working directory they cannot enter.
        prefix = ("runuser", "-u", "postgres", "--", "env", "--chdir=/")
        return cls("postgres", postgres.pw_uid, postgres.pw_gid, Path(postgres.pw_dir), prefix)

    def command(self, *arguments: str) -> list[str]:
        """``arguments`` run as this user."""
        return [*self.as_user, *arguments]

    def can(self, test: str, path: Path) -> bool:
        """``test -x path`` (or -w...) as this user: whether it may enter or write ``path``."""
        checked = subprocess.run(self.command("test", test, str(path)), stderr=subprocess.DEVNULL)
        return checked.returncode == 0


@dataclass(frozen=True)
class Cluster:
    directory: Path
    user: ServerUser
    binaries: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def socket_directory(self) -> Path:
        if len(str(self.directory)) + 16 < SOCKET_PATH_LIMIT:
            return self.directory
        return Path("/tmp")  # a deep checkout's own folder is too long for a socket

    def binary(self, name: str) -> str:
        return str(self.binaries / name)

    def make_outside(self, checkout: Path) -> None:
        """The folder in the server user's home, owned by it, naming the checkout."""
        parent = self.directory.parent
        if not self.user.can("-x", parent.parent):
            raise RunnerError(f"postgres: `{self.user.name}` cannot reach its home {parent.parent}")
        for folder in (parent, self.directory):
            folder.mkdir(exist_ok=True)
            os.chown(folder, self.user.uid, self.user.gid)
            folder.chmod(0o700)
        (self.directory / "checkout").write_text(f"{checkout}\n")
        say(
            "postgres",
            f"`{self.user.name}` cannot reach the checkout: the cluster goes to {self.directory}",
        )


def outside_directory(checkout: Path, user: ServerUser) -> Path:
    """~postgres/talent-network/<checkout name>-<12 hex of the sha256 of its physical path>,
    short enough to hold the server's unix socket."""
    digest = hashlib.sha256(str(checkout.resolve()).encode()).hexdigest()[:12]
    return user.home / "talent-network" / f"{checkout.name[:24]}-{digest}"


def locate(config: Config, user: ServerUser) -> Path:
    """.local/postgres, unless the server's user cannot reach it. Stable per checkout: an
    existing cluster is used where it is, so start and stop always find it."""
    in_tree = config.local / "postgres"
    if os.geteuid() != 0:
        return in_tree
    outside = outside_directory(config.root, user)
    if (outside / "data" / "PG_VERSION").is_file():
        return outside
    if not (in_tree / "data" / "PG_VERSION").is_file() and not user.can("-x", config.local):
        return outside
    return in_tree


def binaries(data: Path) -> Path | None:
    """The binaries of the version the cluster was made with, else the newest installed."""
    version = data / "PG_VERSION"
    if version.is_file():
        wanted = INSTALLED / version.read_text().strip() / "bin"
        if (wanted / "pg_ctl").exists():
            return wanted
    return newest_installed()


def newest_installed() -> Path | None:
    installed = sorted(INSTALLED.glob("*/bin/pg_ctl"), key=_version_of)
    return installed[-1].parent if installed else None


def _version_of(pg_ctl: Path) -> list[int]:
    return [int(number) for number in re.findall(r"\d+", pg_ctl.parent.parent.name)]


def find_cluster(config: Config, *, install: bool) -> Cluster | None:
    """This checkout's cluster (made or not yet); installs the server when ``install`` and it
    is missing (root only). None when it is not installed."""
    if newest_installed() is None:
        if not install:
            return None
        install_debian_package("postgresql")  # its own `main` cluster is reused on 5432
    user = ServerUser.for_this_process()
    directory = locate(config, user)
    found = binaries(directory / "data")
    if found is None:
        raise RunnerError(f"no PostgreSQL server binaries in {INSTALLED}/*/bin")
    return Cluster(directory, user, found)
