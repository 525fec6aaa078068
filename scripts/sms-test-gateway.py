#!/usr/bin/env python3
"""An SMS aggregator's HTTP API for the tests, shaped as Mobizon's send and status methods: it
takes POST /service/message/sendsmsmessage?output=json&api=v1&apiKey=KEY with a form (recipient,
text, from, params[validity]), reads the query and the form with Python's own parsers, writes
each accepted message to a JSON file in a folder and answers the API's JSON. POST
/service/message/getsmsstatus (same query) with a form of ids[] (at most 100) answers each
message it took with its delivery status, and writes the question to a .question file.

    sms-test-gateway.py FOLDER --key KEY [--tls CERT KEY] [--refuse N CODE] [--refuse-number DIGITS]
                       [--report DIGITS STATUS]... [--http STATUS] [--silent]

--refuse answers the first N requests with the API's CODE (30: too many requests);
--refuse-number refuses that recipient as invalid (code 1), as an aggregator does a number it
will not take;
--report gives messages to numbers ending in DIGITS that status (UNDELIV, ACCEPTD, ...), as
does FOLDER/reports.json ({"DIGITS": "STATUS"}, read at each question, before --report); the
others are DELIVRD;
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
    parser.add_argument("--report", nargs=2, action="append", default=[], metavar=("DIGITS", "STATUS"))
    parser.add_argument("--http", type=int)
    parser.add_argument("--silent", action="store_true")
    arguments = parser.parse_args()
    lock = threading.Lock()
    state = {"requests": 0, "messages": 0, "recipients": {}}

    def write(record, suffix):
        path = os.path.join(arguments.folder, "%020d%s" % (time.time_ns(), suffix))
        with open(path + ".part", "w", encoding="utf-8") as file:
            json.dump(record, file, ensure_ascii=False)
        os.rename(path + ".part", path)

    def status(recipient):
        # FOLDER/reports.json, when there, stands before --report: a test changes its mind.
        rules = list(arguments.report)
        try:
            with open(os.path.join(arguments.folder, "reports.json"), encoding="utf-8") as file:
                rules = list(json.load(file).items()) + rules
        except FileNotFoundError:
            pass
        for digits, answer in rules:
            if recipient.endswith(digits):
                return answer
        return "DELIVRD"

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
            method = url.path.lower()
            if method not in ("/service/message/sendsmsmessage", "/service/message/getsmsstatus"):
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
            if method == "/service/message/getsmsstatus":
                ids = form.get("ids[]", [])
                if not ids or len(ids) > 100:
                    return self.api(1, {"ids": "from 1 to 100 ids"}, "validation failed")
                write({"ids": ids}, ".question")
                with lock:
                    known = [(id, state["recipients"][id]) for id in ids if id in state["recipients"]]
                return self.api(
                    0,
                    [
                        {"id": id, "status": status(recipient), "segNum": "1", "startSendTs": "", "statusUpdateTs": ""}
                        for id, recipient in known
                    ],
                )
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
                state["recipients"][message_id] = recipient
            record = {
                "messageId": message_id,
                "host": self.headers.get("Host"),
                "contentType": self.headers.get("Content-Type"),
                "query": {name: values[0] for name, values in query.items()},
                "form": {name: values for name, values in form.items()},
            }
            write(record, ".json")
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
