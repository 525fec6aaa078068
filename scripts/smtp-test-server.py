#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd): it takes mail from Adal's SMTP client and
writes each message, as Python's own email parser reads it, to a JSON file in a folder.

    smtp-test-server.py FOLDER [--tls CERT KEY | --starttls CERT KEY] [--user NAME PASSWORD] [--utf8]

--tls speaks TLS from the first byte; --starttls offers STARTTLS and takes nothing else first.

Prints "ready PORT" once it listens on 127.0.0.1; stops on SIGTERM, and when the process that
started it ends (Linux's parent-death signal), so a test stopped halfway leaves no server behind.
"""
import argparse
import ctypes
import email
import email.policy
import json
import os
import signal
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keeper:
    def __init__(self, folder):
        self.folder = folder

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A mailbox that does not exist, refused for good (RFC 5321, 4.2.2).
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "smtputf8": envelope.smtp_utf8,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "date": str(message["Date"]),
            "message_id": str(message["Message-ID"]),
            "content_type": message.get_content_type(),
            "charset": message.get_content_charset(),
            "body": message.get_content(),
            "defects": [type(d).__name__ for d in message.defects],
            "raw": envelope.original_content.decode("utf-8", "replace"),
        }
        path = os.path.join(self.folder, "%020d.json" % time.time_ns())
        with open(path + ".part", "w", encoding="utf-8") as file:
            json.dump(record, file, ensure_ascii=False)
        os.rename(path + ".part", path)
        return "250 2.0.0 kept"


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--user", nargs=2, metavar=("NAME", "PASSWORD"))
    parser.add_argument("--utf8", action="store_true")
    arguments = parser.parse_args()

    def authenticator(server, session, envelope, mechanism, auth_data):
        good = (
            arguments.user is not None
            and isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == arguments.user[0]
            and auth_data.password.decode() == arguments.user[1]
        )
        # handled=False: the server answers the refusal (535) itself.
        return AuthResult(success=good, handled=False)

    context = None
    if arguments.tls or arguments.starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*(arguments.tls or arguments.starttls))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Keeper(arguments.folder),
        hostname="127.0.0.1",
        port=port,
        ssl_context=context if arguments.tls else None,
        tls_context=context if arguments.starttls else None,
        require_starttls=arguments.starttls is not None,
        server_hostname="localhost",
        authenticator=authenticator if arguments.user else None,
        auth_required=arguments.user is not None,
        # Over implicit TLS aiosmtpd 1.4 still answers AUTH with 538 when this is on.
        auth_require_tls=False,
        enable_SMTPUTF8=arguments.utf8,
    )
    # PR_SET_PDEATHSIG: SIGTERM when the test process ends, however it ends.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    controller.start()
    print("ready", port, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
