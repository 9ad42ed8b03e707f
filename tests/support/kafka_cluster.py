"""A three-broker Kafka cluster (KRaft) on free ports, from the local runner's Kafka jars.

Each node runs broker and controller in one JVM (-Xmx384m) with its own PLAINTEXT and CONTROLLER
ports; all share one static quorum and one cluster id. Topics default to replication factor 3
with ``min.insync.replicas=2``, so the cluster keeps accepting ``acks=all`` writes while any one
node is down. Used by the fault tests that kill a broker; everything lives in a directory the
caller owns, and :func:`kafka_cluster` stops every node it started.
"""

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from deploy.local.kafka_broker import STARTED_LINE, java_command, kafka_libs
from devsupport.infra import REPO_ROOT
from devsupport.kafka import new_cluster_id
from devsupport.ports import free_port

NODE_PROPERTIES = """\
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
num.partitions=3
group.initial.rebalance.delay.ms=0
# A node restarted after SIGKILL registers again once its old session has expired.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
"""


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    log_offset: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def properties(self) -> Path:
        return self.directory / "server.properties"

    @property
    def log(self) -> Path:
        return self.directory / "kafka.log"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def started(self) -> bool:
        """The broker logged its "started" line since this JVM was launched."""
        if not self.log.exists():
            return False
        with self.log.open("rb") as log:
            log.seek(self.log_offset)
            return STARTED_LINE in log.read()

    def tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class KafkaCluster:
    directory: Path
    nodes: list[Node] = field(default_factory=list)
    libs: Path = REPO_ROOT / ".local" / "kafka" / "libs"

    @classmethod
    def on_free_ports(cls, directory: Path, size: int = 3) -> "KafkaCluster":
        nodes = [
            Node(n, free_port(), free_port(), directory / f"node-{n}") for n in range(1, size + 1)
        ]
        return cls(directory, nodes)

    def bootstrap(self, nodes: Iterable[Node] | None = None) -> str:
        """The comma-separated bootstrap list naming ``nodes`` (default: every node)."""
        return ",".join(node.address for node in (self.nodes if nodes is None else nodes))

    def node(self, node_id: int) -> Node:
        return next(node for node in self.nodes if node.node_id == node_id)

    def format(self) -> None:
        """Write each node's properties and format its storage with one cluster id."""
        self.libs = kafka_libs(REPO_ROOT / ".local")  # the local runner's, resolved once
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        cluster_id = new_cluster_id()
        formats = []
        for node in self.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            node.properties.write_text(
                NODE_PROPERTIES.format(
                    node_id=node.node_id,
                    voters=voters,
                    port=node.port,
                    controller_port=node.controller_port,
                    data=node.directory / "data",
                )
            )
            formats.append(
                subprocess.Popen(
                    self._java(
                        node,
                        "kafka.tools.StorageTool",
                        "format",
                        f"--cluster-id={cluster_id}",
                        "-c",
                        str(node.properties),
                    ),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
        for node, process in zip(self.nodes, formats, strict=True):
            output, _ = process.communicate(timeout=120)
            if process.returncode != 0:
                raise RuntimeError(f"formatting node {node.node_id} failed:\n{output.decode()}")

    def launch(self, node: Node) -> None:
        node.log_offset = node.log.stat().st_size if node.log.exists() else 0
        with (node.directory / "kafka.out").open("ab") as out:
            node.process = subprocess.Popen(
                [*self._java(node, "kafka.Kafka"), str(node.properties)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_started(self, node: Node, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not node.started():
            if not node.running():
                raise RuntimeError(f"node {node.node_id} exited during start:\n{node.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {node.node_id} not started in {timeout}s:\n{node.tail()}")
            time.sleep(0.25)

    def start(self, node: Node) -> None:
        self.launch(node)
        self.wait_started(node)

    def kill(self, node: Node) -> None:
        """SIGKILL: no controlled shutdown, nothing flushed."""
        if node.process is not None and node.running():
            node.process.kill()
            node.process.wait(timeout=30)

    def stop(self, node: Node, timeout: float = 30) -> None:
        """SIGTERM: a controlled shutdown that hands leadership to the other nodes first."""
        if node.process is None or not node.running():
            return
        node.process.terminate()
        try:
            node.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(node)

    def _java(self, node: Node, main_class: str, *args: str) -> list[str]:
        return java_command(self.libs, node.directory, main_class, *args, heap=("128m", "384m"))

    async def wait_fully_replicated(self, timeout: float = 60) -> None:
        """Until every partition of every topic has all nodes in sync (e.g. after a restart)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap())
        await admin.start()
        try:
            deadline = time.monotonic() + timeout
            while True:
                lagging = await self._partitions_out_of_sync(admin)
                if not lagging:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"partitions not fully in sync: {lagging[:10]}")
                await asyncio.sleep(0.5)
        finally:
            await admin.close()

    async def _partitions_out_of_sync(self, admin: AIOKafkaAdminClient) -> list[str]:
        try:
            descriptions = await admin.describe_topics(await admin.list_topics())
        except KafkaError as error:
            return [repr(error)]
        return [
            f"{topic['topic']}-{partition['partition']}"
            for topic in descriptions
            for partition in topic["partitions"]
            if len(partition["isr"]) < len(self.nodes)
        ] or [t["topic"] for t in descriptions if t["error_code"] != 0]

    async def create_offsets_topic(self, timeout: float = 60) -> None:
        """The first coordinator lookup creates ``__consumer_offsets``, which needs all three
        nodes (replication factor 3): do it now, while they are all up."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap())
        await admin.start()
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    await admin.find_coordinator(f"cluster-warm-up-{uuid.uuid4().hex[:6]}")
                    return
                except KafkaError:
                    if time.monotonic() > deadline:
                        raise
                await asyncio.sleep(0.5)
        finally:
            await admin.close()


@asynccontextmanager
async def kafka_cluster(directory: Path) -> AsyncIterator[KafkaCluster]:
    """Three running nodes, the offsets topic created; every node stopped on exit."""
    cluster = KafkaCluster.on_free_ports(directory)
    try:
        await asyncio.to_thread(cluster.format)
        for node in cluster.nodes:
            cluster.launch(node)
        for node in cluster.nodes:
            await asyncio.to_thread(cluster.wait_started, node)
        await cluster.create_offsets_topic()
        yield cluster
    finally:
        for node in cluster.nodes:
            cluster.kill(node)
