"""The e-mail alert test's SMTP server: aiosmtpd on 127.0.0.1 that requires
STARTTLS (and AUTH, over TLS) before it accepts mail. It writes each message
to MAILDIR/N.eml and, parsed by Python's email package (a parser independent
of the sender's), to MAILDIR/N.json: envelope, headers, and the decoded text
and HTML parts. Files are written, then renamed. Prints "ready PORT" once it
listens, and stops when its standard input closes."""

import argparse
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, maildir):
        self.maildir = maildir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            if part.get_content_maintype() == "text":
                parts[part.get_content_type()] = part.get_content()
        parsed = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "from": str(message["from"]),
            "to": str(message["to"]),
            "message_id": str(message["message-id"]),
            "content_type": message.get_content_type(),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
        }
        base = os.path.join(self.maildir, f"{self.count:04}")
        for ext, data in ((".eml", raw), (".json", json.dumps(parsed).encode())):
            with open(base + ext + ".tmp", "wb") as f:
                f.write(data)
            os.replace(base + ext + ".tmp", base + ext)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--tls-dir", required=True)
    parser.add_argument("--user", default="alerts")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(
        os.path.join(args.tls_dir, "server.pem"), os.path.join(args.tls_dir, "server.key")
    )

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()
        ) == (args.user, args.password)
        return AuthResult(success=ok)

    controller = Controller(
        Store(args.maildir),
        hostname="127.0.0.1",
        port=args.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    print(f"ready {args.port}", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
