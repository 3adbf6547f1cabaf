"""A local SMTP server that keeps every message it receives as an ``.eml`` file.

Used by ``make demo`` and by the tests: the same delivery code that talks to a real mail server
talks to this one on loopback. Messages are written atomically (temp file + rename) so a reader
never sees half a message.
"""

from __future__ import annotations

import itertools
import os
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


class SaveToFolder:
    """aiosmtpd handler: one ``.eml`` per accepted message, named in arrival order."""

    def __init__(self, folder: Path, *, refuse: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.refuse = refuse  # tests flip this to simulate a server that says no
        self._counter = itertools.count(len(list(self.folder.glob("*.eml"))) + 1)
        self._lock = threading.Lock()
        self.received = 0

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        with self._lock:
            n = next(self._counter)
            self.received += 1
        final = self.folder / f"{n:06d}.eml"
        tmp = final.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        os.replace(tmp, final)
        return "250 2.0.0 Message accepted"


class SmtpSink:
    """Start/stop an SMTP sink on 127.0.0.1 (``port=0`` picks a free port)."""

    def __init__(self, folder: Path, port: int = 0):
        self.handler = SaveToFolder(folder)
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=port or _free_port())

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def folder(self) -> Path:
        return self.handler.folder

    def __enter__(self) -> "SmtpSink":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    def messages(self) -> list[EmailMessage]:
        return [read_eml(p) for p in sorted(self.folder.glob("*.eml"))]


def read_eml(path: Path) -> EmailMessage:
    return message_from_bytes(Path(path).read_bytes(), policy=policy.default)  # type: ignore[return-value]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    """Run a sink on its own: ``python -m endorse_cli.smtp_sink --port 8025 --folder var/mail``."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="local SMTP sink that keeps every message as an .eml file")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--folder", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    with SmtpSink(args.folder, port=args.port) as sink:
        print(f"SMTP sink on 127.0.0.1:{sink.port}, saving to {sink.folder}", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})


if __name__ == "__main__":
    main()
