"""`make test-native`: the local infrastructure (started when needed, left running for the next
run; `make down` stops it), the tools and packages the suites need, then every native test,
pointed at this runner's Kafka and PostgreSQL unless the environment names others."""

import os
import subprocess
import sys

from deploy.local import infra
from deploy.local.config import Config, host_port
from deploy.local.gateway import install_browser_packages
from deploy.local.postgres import AppDatabases
from deploy.local.tools import install_tools

NO_TESTS_COLLECTED = 5  # pytest's exit code


def run_native_tests(config: Config, pytest_arguments: list[str]) -> int:
    print("== infrastructure", flush=True)
    infra.start(config, [])
    install_tools(config.local)
    install_browser_packages()
    print("== tests", flush=True)
    uv = os.environ.get("UV") or str(config.local / "bootstrap" / "bin" / "uv")
    command = [uv, "run", "--frozen", "pytest", *pytest_arguments]
    status = subprocess.run(command, cwd=config.root, env=test_environment(config)).returncode
    if status == NO_TESTS_COLLECTED:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return status


def test_environment(config: Config) -> dict[str, str]:
    """What devsupport.infra reads, for the infrastructure just started."""
    postgres = AppDatabases.from_settings()
    server = host_port(config.host, config.postgres_port)
    admin_url = f"postgresql://{postgres.role}:{postgres.password}@{server}/postgres"
    return {
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap,
        "TEST_POSTGRES_URL": admin_url,
        **os.environ,
    }
