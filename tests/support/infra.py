"""The tests' own use of the infrastructure: crashing and restarting it through the local runner,
and waiting for what eventually holds. Where it is lives in devsupport.infra."""

import asyncio
import subprocess
import sys

from devsupport.infra import REPO_ROOT


def infra(*args: str) -> None:
    """``python -m deploy.local infra ...`` (tests that stop, kill and start a real broker)."""
    command = [sys.executable, "-m", "deploy.local", "infra", *args]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"infra {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


async def eventually(check, *, timeout: float = 10.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``check`` (an async callable) until it returns a truthy value or time runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(interval)
