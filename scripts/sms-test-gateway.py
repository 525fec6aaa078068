#!/usr/bin/env python3
"""An SMS aggregator's HTTP API for the tests, shaped as Mobizon's send method: it takes
POST /service/message/sendsmsmessage?output=json&api=v1&apiKey=KEY with a form (recipient, text,
from, params[validity]), reads the query and the form with Python's own parsers, writes each
accepted message to a JSON file in a folder and answers the API's JSON.

    sms-test-gateway.py FOLDER --key KEY [--tls CERT KEY] [--refuse N CODE] [--refuse-number DIGITS]
                       [--http STATUS] [--silent]

--refuse answers the first N requests with the API's CODE (30: too many requests);
--refuse-number refuses that recipient as invalid (code 1), as an aggregator does a number it
will not take;
--http answers every request with that HTTP status and a page that is not the API's JSON;
--silent takes requests and never answers.

Prints "ready PORT" once it listens on 127.0.0.1; stops on SIGTERM, and when the process that
started it ends (Linux's parent-death signal).
"""
import argparse
import ctypes
import http.server
import json
import os
import signal
import ssl
import threading
import time
import urllib.parse


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--key", required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--refuse", nargs=2, type=int, metavar=("N", "CODE"))
    parser.add_argument("--refuse-number")
    parser.add_argument("--http", type=int)
    parser.add_argument("--silent", action="store_true")
    arguments = parser.parse_args()
    lock = threading.Lock()
    state = {"requests": 0, "messages": 0}

    class Gateway(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def answer(self, status, payload, content_type="application/json"):
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def api(self, code, data, message=""):
            self.answer(200, {"code": code, "data": data, "message": message})

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                state["requests"] += 1
                number = state["requests"]
            if arguments.silent:
                time.sleep(3600)
                return
            if arguments.http:
                return self.answer(arguments.http, b"<html>Service Unavailable</html>", "text/html")
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query, strict_parsing=True)
            if url.path.lower() != "/service/message/sendsmsmessage":
                return self.api(5, "", "unknown method")
            if query.get("output") != ["json"] or query.get("api") != ["v1"]:
                return self.api(6, "", "unknown format")
            if query.get("apiKey") != [arguments.key]:
                return self.api(8, "", "wrong API key")
            if arguments.refuse and number <= arguments.refuse[0]:
                return self.api(arguments.refuse[1], "", "refused as asked")
            if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                return self.api(11, "", "no form")
            form = urllib.parse.parse_qs(body.decode("utf-8", "strict"), strict_parsing=True)
            recipient = form.get("recipient", [""])[0]
            text = form.get("text", [""])[0]
            errors = {}
            # The account sends to Kazakh mobile numbers only.
            if (
                not recipient.isdigit()
                or len(recipient) != 11
                or not recipient.startswith("77")
                or recipient == arguments.refuse_number
            ):
                errors["recipient"] = "%s is not a Kazakh mobile number" % recipient
            if not text:
                errors["text"] = "the text is empty"
            if errors:
                return self.api(1, errors, "validation failed")
            with lock:
                state["messages"] += 1
                message_id = str(1000 + state["messages"])
            record = {
                "messageId": message_id,
                "host": self.headers.get("Host"),
                "contentType": self.headers.get("Content-Type"),
                "query": {name: values[0] for name, values in query.items()},
                "form": {name: values for name, values in form.items()},
            }
            path = os.path.join(arguments.folder, "%020d.json" % time.time_ns())
            with open(path + ".part", "w", encoding="utf-8") as file:
                json.dump(record, file, ensure_ascii=False)
            os.rename(path + ".part", path)
            self.api(0, {"campaignId": "77", "messageId": message_id, "status": 2})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    server.daemon_threads = True
    if arguments.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*arguments.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    # PR_SET_PDEATHSIG: SIGTERM when the test process ends, however it ends.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", server.server_address[1], flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.shutdown()


if __name__ == "__main__":
    main()
