"""What the runner needs from Debian's packages, installed with apt-get when missing (as root)."""

import os
import shutil
import subprocess
import sys

from deploy.local.config import RunnerError

SYSTEM_PATH = "/usr/sbin:/usr/bin"  # nginx is in /usr/sbin, which a user's PATH may lack


def install_debian_package(package: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RunnerError(f"{package} is not installed: as root, apt-get install -y {package}")
    print(f"{package} is not installed: installing it with apt-get...", file=sys.stderr, flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        try:
            subprocess.run(step, env=environment, check=True, stdout=subprocess.DEVNULL)
        except subprocess.CalledProcessError as error:
            raise RunnerError(f"{' '.join(step)} failed (exit code {error.returncode})") from None


def ensure_debian_package(command: str, package: str) -> str:
    """The path of ``command``, installing Debian's ``package`` when it is missing."""
    found = shutil.which(command) or shutil.which(command, path=SYSTEM_PATH)
    if found:
        return found
    install_debian_package(package)
    found = shutil.which(command) or shutil.which(command, path=SYSTEM_PATH)
    if not found:
        raise RunnerError(f"apt-get installed {package}, but there is no {command} command")
    return found
