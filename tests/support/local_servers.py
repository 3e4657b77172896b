"""Real servers on 127.0.0.1 for the delivery tests: a webhook receiver and an SMTP server, each able to
refuse its first requests."""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Serving:
    """A server (``self.server``) served by a thread while in a ``with`` block."""

    server: socketserver.BaseServer

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookReceiver(_Serving):
    """An HTTP server that answers 500 to its first ``fail_first`` POSTs (of those whose text holds
    ``fail_containing``) and keeps the JSON of the others."""

    def __init__(self, fail_first: int = 0, fail_containing: str = ""):
        self.fail_remaining = fail_first
        self.received: list[dict] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    fail = receiver.fail_remaining > 0 and fail_containing in json.loads(body)["text"]
                    if fail:
                        receiver.fail_remaining -= 1
                        receiver.refused += 1
                    else:
                        receiver.received.append(json.loads(body))
                self.send_response(500 if fail else 200)
                self.end_headers()
                self.wfile.write(b"no" if fail else b"ok")

            def log_message(self, *args):
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"

    def texts(self, containing: str = "") -> list[str]:
        return [r["text"] for r in self.received if containing in r["text"]]


class SmtpServer(_Serving):
    """Enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to take mail; the first ``fail_first``
    MAIL commands get ``451`` (a temporary failure)."""

    def __init__(self, fail_first: int = 0):
        self.fail_remaining = fail_first
        self.messages: list[tuple[list[str], EmailMessage]] = []  # (recipients, message)
        lock = threading.Lock()
        smtp = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 127.0.0.1 test SMTP")
                recipients: list[str] = []
                while line := self.rfile.readline():
                    command = line.decode(errors="replace").strip()
                    verb = command[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-127.0.0.1" if verb == "EHLO" else "250 127.0.0.1")
                        if verb == "EHLO":
                            self.reply("250 8BITMIME")
                    elif verb == "MAIL":
                        with lock:
                            fail = smtp.fail_remaining > 0
                            smtp.fail_remaining -= fail
                        recipients = []
                        self.reply("451 4.3.0 mailbox busy, try again later" if fail else "250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        while (data := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(data[1:] if data.startswith(b"..") else data)
                        message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                        with lock:
                            smtp.messages.append((recipients, message))
                        self.reply("250 OK queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 command not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def mails(self, containing: str = "") -> list[EmailMessage]:
        """The messages taken whose body holds ``containing``."""
        return [m for _, m in self.messages if containing in m.get_content()]
