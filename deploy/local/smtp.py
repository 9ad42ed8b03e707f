"""The mail sink: aiosmtpd's own Mailbox handler, writing every message into the Maildir
.local/mail. Ready once it greets."""

import importlib.util
import os
import smtplib
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from deploy.local.config import Config, RunnerError, host_port, say
from deploy.local.daemons import Daemon, wait_until
from devsupport.infra import port_answers


@dataclass
class Smtp:
    config: Config
    name: str = "smtp"
    process: psutil.Process | None = None  # the sink launch() started or found
    launched: bool = False  # by this runner, now (else it was running already)

    @property
    def maildir(self) -> Path:
        return self.config.local / "mail"

    @property
    def daemon(self) -> Daemon:
        directory = self.config.local / "smtp"
        return Daemon("smtp", directory / "smtp.pid", "aiosmtpd", directory / "smtp.log")

    @property
    def _address(self) -> str:
        return host_port(self.config.host, self.config.smtp_port)

    def launch(self) -> None:
        # Mailbox's Maildir makes cur/new/tmp only with the folder itself: a half-made one
        # would fail.
        for folder in ("cur", "new", "tmp"):
            (self.maildir / folder).mkdir(parents=True, exist_ok=True)
        self.process = self.daemon.process()
        if self.process is not None:
            return
        if importlib.util.find_spec("aiosmtpd") is None:
            raise RunnerError(f"smtp: {sys.executable} cannot import aiosmtpd (run `make sync`)")
        if port_answers(self.config.host, self.config.smtp_port):
            raise RunnerError(
                f"smtp: {self._address} is used by a process the runner did not start"
            )
        # -n: never setuid to nobody (we may be root); -d: log each connection and message.
        listen = host_port(self.config.bind_host, self.config.smtp_port)
        sink = [sys.executable, "-m", "aiosmtpd", "-n", "-d", "-l", listen]
        sink += ["-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)]
        self.process = self.daemon.launch(sink, {**os.environ, "PYTHONUNBUFFERED": "1"})
        self.launched = True

    def wait_ready(self) -> None:
        seconds = wait_until(
            self._greets,
            what="smtp",
            timeout=self.config.start_timeout,
            process=self.process,
            logs=[self.daemon.output],
        )
        pid = self.process.pid if self.process else "?"
        if not self.launched:
            say("smtp", f"already running (pid {pid})")
            return
        maildir = self.config.relative(self.maildir)
        say("smtp", f"ready on {self._address} (pid {pid}, Maildir {maildir}, {seconds:.0f} s)")

    def stop(self) -> None:
        say("smtp", self.daemon.stop())

    def kill(self) -> None:
        say("smtp", self.daemon.kill())

    def status(self) -> str:
        process = self.daemon.process()
        if process is not None:
            maildir, log = (self.config.relative(p) for p in (self.maildir, self.daemon.output))
            return f"running  pid {process.pid}  {self._address}  Maildir {maildir}  log {log}"
        if port_answers(self.config.host, self.config.smtp_port):
            return f"foreign  something the runner did not start listens on {self._address}"
        return "stopped"

    def _greets(self) -> bool:
        try:
            with smtplib.SMTP(self.config.host, self.config.smtp_port, timeout=3):
                return True  # connecting reads the 220 greeting; leaving sends QUIT
        except (OSError, smtplib.SMTPException):
            return False
