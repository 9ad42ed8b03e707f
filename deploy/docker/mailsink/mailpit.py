#!/usr/bin/python3
"""A mail sink that keeps messages in memory and serves them like Mailpit's API.

/mailpit           SMTP on 1025, HTTP on 8025 (GET /api/v1/messages, GET /api/v1/message/<ID>,
                   DELETE /api/v1/messages, GET /readyz)
/mailpit readyz    exit 0 when the HTTP side answers (the compose health check)
"""

import json
import signal
import sys
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

SMTP_PORT = 1025
HTTP_PORT = 8025
messages: list[dict[str, Any]] = []  # newest first, as Mailpit lists them
lock = threading.Lock()


def addresses(message: EmailMessage, header: str) -> list[dict[str, str]]:
    pairs = getaddresses(message.get_all(header, []))
    return [{"Name": name, "Address": address} for name, address in pairs]


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


def summary(stored: dict[str, Any]) -> dict[str, Any]:
    return {key: stored[key] for key in ("ID", "From", "To", "Subject", "Created")}


class SmtpHandler:
    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        stored = {
            "ID": uuid.uuid4().hex,
            "From": (addresses(message, "From") or [{"Name": "", "Address": ""}])[0],
            "To": addresses(message, "To"),
            "Subject": str(message.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat(),
            "Text": body(message, "plain"),
            "HTML": body(message, "html"),
        }
        with lock:
            messages.insert(0, stored)
        return "250 Message accepted"


class ApiHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/readyz":
            self.reply(200, {})
        elif self.path.split("?")[0] == "/api/v1/messages":
            with lock:
                listed = [summary(stored) for stored in messages]
            self.reply(200, {"total": len(listed), "count": len(listed), "messages": listed})
        elif self.path.startswith("/api/v1/message/"):
            wanted = self.path.rsplit("/", 1)[1]
            with lock:
                found = [stored for stored in messages if stored["ID"] == wanted]
            if found:
                self.reply(200, found[0])
            else:
                self.reply(404, {"error": "not found"})
        else:
            self.reply(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        if self.path == "/api/v1/messages":
            with lock:
                messages.clear()
            self.reply(200, {})
        else:
            self.reply(404, {"error": "not found"})

    def reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the compose test polls; one line per poll would bury the SMTP log


def serve() -> None:
    # As PID 1 the default SIGTERM action is ignored: stop at once on `docker stop`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    smtp = Controller(SmtpHandler(), hostname="0.0.0.0", port=SMTP_PORT)
    smtp.start()
    print(f"mail sink: SMTP on {SMTP_PORT}, HTTP API on {HTTP_PORT}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), ApiHandler).serve_forever()


def readyz() -> int:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=3)
    except OSError:
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["readyz"]:
        sys.exit(readyz())
    serve()
