"""The local runner: the whole stack on this machine, without Docker.

python -m deploy.local up | down | status | logs      (make up, make down, ...)
python -m deploy.local infra start|stop|restart|kill|status [kafka|postgres|smtp ...]
python -m deploy.local services start|stop|status
python -m deploy.local gateway start|stop|status|install
python -m deploy.local seed | tools | test [pytest arguments]
"""

import argparse
import glob
import os
import sys
from collections.abc import Callable

import httpx

from deploy.local import infra
from deploy.local.config import Config, RunnerError
from deploy.local.gateway import Gateway, install_browser_packages
from deploy.local.native_tests import run_native_tests
from deploy.local.seed_jobs import load_catalogue
from deploy.local.services import Service, services, start_services, stop_services
from deploy.local.tools import install_tools


def gateway(config: Config, *, routed: bool = True) -> Gateway:
    """The local gateway, routing to the services' ports (from their settings) when ``routed``:
    stopping it or reporting on it needs none, so a setting the services refuse cannot stop it."""
    ports = {s.name: s.settings().http_port for s in services(config)} if routed else {}
    return Gateway(config.gateway_port, config.local, ports, host=config.bind_host)


def seed(config: Config) -> None:
    jobs = Service("jobs", config)
    token = jobs.settings().admin_api_token.get_secret_value()
    try:
        load_catalogue(jobs.url, token)
    except httpx.HTTPError as error:
        raise RunnerError(f"seed: the jobs service at {jobs.url} refused it: {error}") from None


def up(config: Config) -> None:
    infra.start(config, [])
    start_services(config)
    gateway(config).start()
    seed(config)
    print(f"careers site: {config.gateway_url}")
    print("mail sink: .local/mail (Maildir)   logs: make logs   stop: make down")


def down(config: Config) -> None:
    """Everything `make up` or `make test` started, the infrastructure even when a step
    before it failed."""
    failed = []
    for step in (gateway(config, routed=False).stop, lambda: stop_services(config)):
        try:
            step()
        except RunnerError as error:
            failed.append(str(error))
            print(f"ERROR: {error}", file=sys.stderr)
    infra.stop(config, [])
    if failed:
        raise RunnerError("some parts did not stop (see above)")


def status(config: Config) -> None:
    lines = [service.status() for service in services(config)]
    lines += [gateway(config, routed=False).status(), *infra.status(config)]
    print("\n".join(lines))


def logs(config: Config) -> None:
    """Follow the services' and the gateway's logs (tail -F)."""
    files = sorted(glob.glob(str(config.local / "logs" / "*.log")))
    if not files:
        raise RunnerError("no logs yet in .local/logs: `make up` starts the services")
    os.execvp("tail", ["tail", "-n", "50", "-F", *files])


def infra_command(config: Config, action: str, parts: list[str]) -> None:
    if action == "status":
        print("\n".join(infra.status(config)))
        return
    if action in ("stop", "restart"):
        infra.stop(config, parts)
    if action in ("start", "restart"):
        infra.start(config, parts)
    if action == "kill":
        infra.kill(config, parts)


COMMANDS: dict[str, Callable[[Config], None]] = {
    "up": up,
    "down": down,
    "status": status,
    "logs": logs,
    "seed": seed,
    "tools": lambda config: install_tools(config.local),
    "services start": start_services,
    "services stop": stop_services,
    "services status": lambda config: print("\n".join(s.status() for s in services(config))),
    "gateway start": lambda config: gateway(config).start(),
    "gateway stop": lambda config: gateway(config, routed=False).stop(),
    "gateway status": lambda config: print(gateway(config, routed=False).status()),
    "gateway install": lambda config: install_browser_packages(),
}


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", choices=sorted({c.split()[0] for c in COMMANDS} | {"infra", "test"})
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER, metavar="arguments")
    parsed = parser.parse_args(arguments)
    try:
        config = Config.from_environment()
        if parsed.command == "test":
            return run_native_tests(config, parsed.rest)
        if parsed.command == "infra":
            action, *parts = parsed.rest or ["help"]
            if action not in ("start", "stop", "restart", "kill", "status"):
                parser.error("infra start|stop|restart|kill|status [kafka|postgres|smtp ...]")
            infra_command(config, action, parts)
            return 0
        command = " ".join([parsed.command, *parsed.rest])
        if command not in COMMANDS:
            parser.error(f"unknown command: {command}")
        COMMANDS[command](config)
    except RunnerError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
