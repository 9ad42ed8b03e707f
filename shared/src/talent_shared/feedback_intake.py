"""``talent-admin feedback ingest MAILDIR``: the bounces and complaints that arrived in the bounce
mailbox (a Maildir), each posted to the notifications service's ``POST /v1/email-feedback``.

A message the service took (bounce, complaint, or a report about no delivery of ours) is moved to
``cur/`` and marked seen, so the next run skips it; one it could not take stays in ``new/`` for
the next run, and the command exits 1. Applying a report twice has no further effect.
"""

import json
import mailbox
from pathlib import Path

import httpx

RFC822 = "message/rfc822"


def ingest(maildir: Path, *, notifications_url: str, admin_token: str) -> int:
    """Post every new message; print one JSON line each; the number that failed."""
    box = mailbox.Maildir(maildir, create=False)
    failed = 0
    headers = {"Authorization": f"Bearer {admin_token}", "Content-Type": RFC822}
    with httpx.Client(base_url=notifications_url, headers=headers, timeout=30) as client:
        for key in sorted(box.iterkeys()):
            message = box[key]
            if message.get_subdir() != "new":
                continue
            response = client.post("/v1/email-feedback", content=box.get_bytes(key))
            if response.status_code != 200:
                failed += 1
                print(json.dumps({"message": key, "status": response.status_code}))
                continue
            print(json.dumps({"message": key, **response.json()}))
            message.set_subdir("cur")
            message.add_flag("S")
            box[key] = message
    return failed
