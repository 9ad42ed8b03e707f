"""A latency proxy in front of PostgreSQL: toxiproxy (installed by `python -m deploy.local tools`
into .local/tools/bin), driven through its HTTP API."""

import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
import httpx

from deploy.local.services import with_server
from devsupport.infra import REPO_ROOT
from devsupport.ports import free_port

TOXIPROXY = REPO_ROOT / ".local" / "tools" / "bin" / "toxiproxy-server"


@asynccontextmanager
async def latency_proxy(database_url: str, latency_ms: int) -> AsyncIterator[tuple[str, float]]:
    """(the URL of the database through the proxy, its measured SELECT 1 round trip in ms):
    ``latency_ms`` added to the data each way."""
    if not TOXIPROXY.exists():
        sys.exit("bench: needs toxiproxy (`python -m deploy.local tools` installs it)")
    server = urlsplit(database_url)
    api_port, listen_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        str(TOXIPROXY), "-host", "127.0.0.1", "-port", str(api_port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as api:
            await _until_answering(api)
            proxy = {
                "name": "postgres",
                "listen": f"127.0.0.1:{listen_port}",
                "upstream": f"{server.hostname}:{server.port or 5432}",
            }
            (await api.post("/proxies", json=proxy)).raise_for_status()
            for stream in ("upstream", "downstream"):
                toxic = {"name": f"latency_{stream}", "type": "latency", "stream": stream,
                         "attributes": {"latency": latency_ms, "jitter": 0}}  # fmt: skip
                (await api.post("/proxies/postgres/toxics", json=toxic)).raise_for_status()
        proxied = with_server(database_url, "127.0.0.1", listen_port)
        yield proxied, await round_trip_ms(proxied)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def _until_answering(api: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            (await api.get("/version")).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def round_trip_ms(database_url: str, samples: int = 50) -> float:
    """The median time of ``SELECT 1`` on one connection."""
    connection = await asyncpg.connect(database_url)
    try:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            await connection.fetchval("SELECT 1")
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)
    finally:
        await connection.close()
