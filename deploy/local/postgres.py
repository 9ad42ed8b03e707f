"""PostgreSQL for the services: this checkout's own server (initdb, pg_ctl), or one that already
answers on the port (Debian's cluster, say: reused, never stopped). Either way the services'
role and databases exist afterwards, as their settings classes name them."""

import asyncio
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import psutil

from deploy.local.config import Config, RunnerError, say
from deploy.local.daemons import Daemon, log_tail, wait_until
from deploy.local.postgres_cluster import Cluster, find_cluster
from deploy.local.services import SERVICE_SETTINGS
from devsupport.infra import port_answers
from devsupport.processes import kill_tree

OBJECTS_SQL = Path(__file__).with_name("postgres_objects.sql")
STOP_TIMEOUT_SECONDS = "30"


@dataclass(frozen=True)
class AppDatabases:
    """The role and the databases of the services' default URLs."""

    role: str
    password: str
    names: list[str]

    @classmethod
    def from_settings(cls) -> "AppDatabases":
        urls = [
            urlsplit(str(s.model_fields["database_url"].default)) for s in SERVICE_SETTINGS.values()
        ]
        # One role owns the three databases locally; defaults naming two would stop here.
        [(role, password)] = {(url.username or "", url.password or "") for url in urls}
        return cls(role, password, [url.path.lstrip("/") for url in urls])


@dataclass(frozen=True)
class Postgres:
    config: Config
    name: str = "postgres"

    def launch(self) -> None:
        self.config.local.mkdir(parents=True, exist_ok=True)
        cluster = find_cluster(self.config, install=True)
        assert cluster is not None  # installed, or find_cluster raised
        if (process := self._server(cluster).process()) is not None:
            self._wait_answering(cluster, process)
            self._ensure_objects(cluster)
            say("postgres", f"already running (pid {process.pid})")
        elif self._answers(cluster):
            say(
                "postgres",
                f"a server the runner did not start answers on {self._address}: reusing it",
            )
            self._ensure_objects(cluster)
        elif port_answers(self.config.host, self.config.postgres_port):
            raise RunnerError(
                f"postgres: {self._address} is used by something that is not PostgreSQL"
            )
        else:
            self._initdb(cluster)
            self._start(cluster)
            self._ensure_objects(cluster)

    def wait_ready(self) -> None:
        """Nothing left to wait for: pg_ctl returned once the server accepted connections."""

    def stop(self) -> None:
        cluster = find_cluster(self.config, install=False)
        process = self._server(cluster).process() if cluster else None
        if cluster is None:
            say("postgres", "not installed")
        elif process is not None:
            fast = ("stop", "-m", "fast", "-t", STOP_TIMEOUT_SECONDS)
            immediate = ("stop", "-m", "immediate", "-t", "10")
            # A server that ignored both (pg_ctl gave up waiting) is killed.
            if not self._pg_ctl(cluster, *fast) and not self._pg_ctl(cluster, *immediate):
                kill_tree(process)
            say("postgres", f"stopped (pid {process.pid})")
        elif self._answers(cluster):
            say(
                "postgres", f"the server on {self._address} is not the runner's: leaving it running"
            )
        else:
            say("postgres", "not running")

    def kill(self) -> None:
        """A crash: immediate shutdown (SIGQUIT, no checkpoint), so the next start recovers. A
        raw SIGKILL of the postmaster could leave backends holding the shared memory."""
        cluster = find_cluster(self.config, install=False)
        process = self._server(cluster).process() if cluster else None
        if cluster is None or process is None:
            say("postgres", "no server of the runner's is running")
            return
        if not self._pg_ctl(cluster, "stop", "-m", "immediate", "-t", "10"):
            kill_tree(process)
        say("postgres", f"crashed on purpose (immediate shutdown, pid {process.pid})")

    def status(self) -> str:
        cluster = find_cluster(self.config, install=False)
        if cluster is None:
            return "not installed"
        if (process := self._server(cluster).process()) is not None:
            data, log = (self.config.relative(path) for path in (cluster.data, cluster.log))
            return f"running  pid {process.pid}  {self._address}  data {data}  log {log}"
        if self._answers(cluster):
            return f"foreign  a server the runner did not start answers on {self._address} (reused)"
        return "stopped"

    @property
    def _address(self) -> str:
        return f"{self.config.host}:{self.config.postgres_port}"

    def _server(self, cluster: Cluster) -> Daemon:
        """The postmaster serving this cluster: postmaster.pid's first line names it."""
        return Daemon("postgres", cluster.data / "postmaster.pid", str(cluster.data), cluster.log)

    def _answers(self, cluster: Cluster) -> bool:
        host, port = self.config.host, str(self.config.postgres_port)
        ready = [cluster.binary("pg_isready"), "-q", "-h", host, "-p", port, "-t", "2"]
        return subprocess.run(ready).returncode == 0

    def _wait_answering(self, cluster: Cluster, server: psutil.Process) -> None:
        wait_until(
            lambda: self._answers(cluster),
            what="postgres",
            timeout=self.config.start_timeout,
            process=server,
            logs=[cluster.log],
        )

    def _pg_ctl(self, cluster: Cluster, *arguments: str) -> bool:
        """pg_ctl as the server's user, waiting (-w) for what it does; whether it succeeded.
        In a session of its own, so the server it starts is no child of the caller's."""
        command = cluster.user.command(cluster.binary("pg_ctl"), "-D", str(cluster.data), "-w")
        done = subprocess.run(
            [*command, *arguments], stdout=subprocess.DEVNULL, start_new_session=True
        )
        return done.returncode == 0

    def _initdb(self, cluster: Cluster) -> None:
        if (cluster.data / "PG_VERSION").is_file():
            return
        if cluster.directory.is_relative_to(self.config.local):
            cluster.directory.mkdir(parents=True, exist_ok=True)
        else:
            cluster.make_outside(self.config.root)
        cluster.log.touch()  # pg_ctl, as the server's user, appends to it
        for path in (cluster.directory, cluster.log):
            os.chown(path, cluster.user.uid, cluster.user.gid)
        if not cluster.user.can("-w", cluster.directory):
            raise RunnerError(f"postgres: `{cluster.user.name}` cannot write {cluster.directory}")
        say("postgres", f"creating a cluster in {self.config.relative(cluster.data)} (initdb)")
        # Peer authentication on the unix socket (the admin steps), passwords over TCP.
        initdb = cluster.user.command(
            cluster.binary("initdb"), "-D", str(cluster.data), "-U", cluster.user.name,
            "-E", "UTF8", "--no-locale", "--auth-local=peer", "--auth-host=scram-sha-256",
        )  # fmt: skip
        with cluster.log.open("a") as log:
            if subprocess.run(initdb, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
                raise RunnerError(f"postgres: initdb failed\n{log_tail(cluster.log)}")

    def _start(self, cluster: Cluster) -> None:
        if not cluster.user.can("-w", cluster.data):
            raise RunnerError(
                f"postgres: `{cluster.user.name}` cannot reach the cluster in {cluster.data} "
                "(was a parent folder made private after it was created?)"
            )
        options = (
            f"-c listen_addresses='{self.config.bind_host}' -c port={self.config.postgres_port} "
            f"-c unix_socket_directories='{cluster.socket_directory}'"
        )
        timeout = str(int(self.config.start_timeout))
        if not self._pg_ctl(cluster, "-l", str(cluster.log), "-t", timeout, "-o", options, "start"):
            raise RunnerError(f"postgres: the server did not start\n{log_tail(cluster.log)}")
        process = self._server(cluster).process()
        if process is None:
            raise RunnerError("postgres: pg_ctl reported a start, but no server runs")
        say("postgres", f"ready on {self._address} (pid {process.pid})")

    def _ensure_objects(self, cluster: Cluster) -> None:
        """The role and databases, made as the server's superuser through a unix socket; on a
        server that gives no such access, only checked."""
        wanted = AppDatabases.from_settings()
        socket = self._admin_socket(cluster)
        if socket is None:
            self._check_objects(wanted)
            return
        psql = cluster.user.command(
            cluster.binary("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-v", f"role={wanted.role}", "-v", f"password={wanted.password}",
            "-v", f"databases={','.join(wanted.names)}",
            "-h", str(socket), "-p", str(self.config.postgres_port), "-U", cluster.user.name,
            "-d", "postgres",
        )  # fmt: skip
        made = subprocess.run(psql, input=OBJECTS_SQL.read_text(), capture_output=True, text=True)
        if made.returncode != 0:
            raise RunnerError(f"postgres: could not create the role and databases:\n{made.stderr}")

    def _admin_socket(self, cluster: Cluster) -> Path | None:
        """The socket folder of the server on our port where its superuser may log in."""
        port = str(self.config.postgres_port)
        for folder in (cluster.socket_directory, Path("/var/run/postgresql"), Path("/tmp")):
            if not (folder / f".s.PGSQL.{port}").exists():
                continue
            probe = cluster.user.command(
                cluster.binary("psql"), "-X", "-q", "-h", str(folder), "-p", port,
                "-U", cluster.user.name, "-d", "postgres", "-tAc", "select 1",
            )  # fmt: skip
            if subprocess.run(probe, capture_output=True).returncode == 0:
                return folder
        return None

    def _check_objects(self, wanted: AppDatabases) -> None:
        if asyncio.run(self._count_databases(wanted)) == len(wanted.names):
            say("postgres", f"no admin access here, but role {wanted.role} and its databases exist")
            return
        say(
            "postgres",
            f"WARNING: no admin access to the server on {self._address}, and role {wanted.role} "
            f"or its databases are missing: create them yourself (role {wanted.role} LOGIN "
            f"CREATEDB password '{wanted.password}'; databases {', '.join(wanted.names)} owned "
            "by it)",
        )

    async def _count_databases(self, wanted: AppDatabases) -> int:
        try:
            connection = await asyncpg.connect(
                host=self.config.host,
                port=self.config.postgres_port,
                user=wanted.role,
                password=wanted.password,
                database="postgres",
                timeout=5,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return 0
        try:
            query = "SELECT count(*) FROM pg_database WHERE datname = any($1::text[])"
            count: int = await connection.fetchval(query, wanted.names)
            return count
        finally:
            await connection.close()
