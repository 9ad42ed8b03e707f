"""Apache Kafka 4.1 in KRaft combined mode (broker and controller in one JVM), from the jars
Maven resolves for kafka/pom.xml. Ready once it logged its "started" line since this launch and
its port accepts (the port alone is not enough: the socket is bound well before the broker has
caught up with the metadata log)."""

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from deploy.local.config import Config, RunnerError, host_port, say
from deploy.local.daemons import Daemon, log_tail, wait_until
from devsupport.infra import port_answers
from devsupport.kafka import new_cluster_id

HERE = Path(__file__).parent / "kafka"
KAFKA_POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j2.properties"
STARTED_LINE = b"Kafka Server started"


def java_command(
    libs: Path, log_dir: Path, *arguments: str, heap: tuple[str, str] = ("256m", "512m")
) -> list[str]:
    """``java`` running a Kafka class; ``heap`` is its initial and its largest size. log4j2's
    own shutdown hook would stop logging while Kafka's is still running, losing the shutdown
    lines; the file appender flushes every line."""
    return [
        *("java", f"-Xms{heap[0]}", f"-Xmx{heap[1]}"),
        *("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError"),
        f"-XX:ErrorFile={log_dir}/hs_err_%p.log",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-Dlog4j2.shutdownHookEnabled=false",
        f"-Dkafka.logs.dir={log_dir}",
        *("-cp", f"{libs}/*", *arguments),
    ]


def kafka_libs(local: Path) -> Path:
    """The broker's jars, resolved by Maven once (again only when the pom changed). They go to
    a folder of their own first, so an interrupted download never passes for complete."""
    libs = local / "kafka" / "libs"
    wanted = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()
    stamp = libs / ".pom.sha256"
    if stamp.is_file() and stamp.read_text().strip() == wanted and any(libs.glob("kafka_2.13-*")):
        return libs
    if not shutil.which("mvn"):
        raise RunnerError("mvn not found: it fetches the Kafka jars once (apt-get install maven)")
    say("kafka", f"resolving the jars with Maven into {libs} (first start only)...")
    libs.parent.mkdir(parents=True, exist_ok=True)
    partial, log = libs.with_name("libs.partial"), libs.with_name("mvn.log")
    shutil.rmtree(partial, ignore_errors=True)
    command = ["mvn", "-B", "-Dstyle.color=never", "-f", str(KAFKA_POM)]
    command += ["dependency:copy-dependencies", f"-DoutputDirectory={partial}"]
    with log.open("wb") as output:
        if subprocess.run(command, stdout=output, stderr=subprocess.STDOUT).returncode != 0:
            raise RunnerError(f"mvn could not resolve {KAFKA_POM}\n{log_tail(log, 30)}")
    (partial / ".pom.sha256").write_text(f"{wanted}\n")
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    return libs


def need_java() -> None:
    if not shutil.which("java"):
        raise RunnerError("java not found: Kafka 4.1 needs Java 17+ (openjdk-17-jre-headless)")
    version = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    major = re.search(r'version "(\d+)', version)
    if major is None or int(major.group(1)) < 17:
        raise RunnerError(f"Kafka 4.1 needs Java 17+, but java is {version.splitlines()[:1]}")


@dataclass
class Kafka:
    config: Config
    name: str = "kafka"
    process: psutil.Process | None = None  # the broker launch() started or found
    launched: bool = False  # by this runner, now (else it was running already)

    @property
    def directory(self) -> Path:
        return self.config.local / "kafka"

    @property
    def log(self) -> Path:
        return self.directory / "kafka.log"  # log4j2's (see kafka/log4j2.properties)

    @property
    def log_offset(self) -> Path:
        return self.directory / "kafka.log.offset"  # kafka.log's size at this launch

    @property
    def daemon(self) -> Daemon:
        # kafka.out: the JVM's own output, where a crash before logging starts shows.
        return Daemon(
            "kafka", self.directory / "kafka.pid", "kafka.Kafka", self.directory / "kafka.out"
        )

    def launch(self) -> None:
        """Start the JVM (it takes longest: the other parts start while it comes up)."""
        self.process = self.daemon.process()
        if self.process is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        need_java()
        libs = kafka_libs(self.config.local)
        for port in (self.config.kafka_port, self.config.kafka_controller_port):
            if port_answers(self.config.host, port):
                raise RunnerError(
                    f"kafka: port {port} is used by a process the runner did not start"
                )
        properties = self.render_properties()
        self._format_storage(libs, properties)
        self.log_offset.write_text(str(self.log.stat().st_size if self.log.exists() else 0))
        java = java_command(libs, self.directory, "kafka.Kafka", str(properties))
        self.process, self.launched = self.daemon.launch(java), True
        address = self.config.kafka_bootstrap
        say("kafka", f"launched (pid {self.process.pid}), waiting for it on {address}...")

    def wait_ready(self) -> None:
        seconds = wait_until(
            self._ready,
            what="kafka",
            timeout=self.config.start_timeout,
            process=self.process,
            logs=[self.daemon.output, self.log],
        )
        pid = self.process.pid if self.process else "?"
        if self.launched:
            say("kafka", f"ready on {self.config.kafka_bootstrap} (pid {pid}, {seconds:.0f} s)")
        else:
            say("kafka", f"already running (pid {pid})")

    def stop(self) -> None:
        say("kafka", self.daemon.stop())

    def kill(self) -> None:
        say("kafka", self.daemon.kill() + "; `infra start kafka` restarts it on the same data")

    def status(self) -> str:
        process, address = self.daemon.process(), self.config.kafka_bootstrap
        if process is not None and self._ready():
            return f"running  pid {process.pid}  {address}  log {self.config.relative(self.log)}"
        if process is not None:
            return f"starting pid {process.pid}  (not answering on {address} yet)"
        if port_answers(self.config.host, self.config.kafka_port):
            return f"foreign  something the runner did not start listens on {address}"
        return "stopped"

    def _ready(self) -> bool:
        if not port_answers(self.config.host, self.config.kafka_port) or not self.log.exists():
            return False
        offset = int(self.log_offset.read_text() or 0) if self.log_offset.exists() else 0
        with self.log.open("rb") as log:
            if log.seek(0, 2) < offset:  # the log rolled over since the launch
                offset = 0
            log.seek(offset)
            return STARTED_LINE in log.read()

    def render_properties(self) -> Path:
        """The template's variable parts: the data folder (an absolute path) and the addresses."""
        config = self.config
        values = {
            "@KAFKA_DATA_DIR@": str(self.directory / "data"),
            "@LISTENER@": host_port(config.bind_host, config.kafka_port),
            "@CONTROLLER_LISTENER@": host_port(config.bind_host, config.kafka_controller_port),
            "@ADVERTISED@": host_port(config.host, config.kafka_port),
            "@CONTROLLER@": host_port(config.host, config.kafka_controller_port),
        }
        text = (HERE / "server.properties").read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        properties = self.directory / "server.properties"
        properties.write_text(text)
        return properties

    def _format_storage(self, libs: Path, properties: Path) -> None:
        """KRaft storage is formatted once; meta.properties marks it done (again would fail)."""
        data = self.directory / "data"
        if (data / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        say(
            "kafka",
            f"formatting the storage in {self.config.relative(data)} (cluster {cluster_id})",
        )
        tool = ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties)]
        with self.daemon.output.open("ab") as output:
            formatted = subprocess.run(
                java_command(libs, self.directory, *tool), stdout=output, stderr=subprocess.STDOUT
            )
        if formatted.returncode != 0:
            raise RunnerError(f"kafka: storage format failed\n{log_tail(self.daemon.output)}")
