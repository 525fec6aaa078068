"""What the by-hand headless-browser checks share (`till-offline-check.py`,
`payout-pages-check.py`): the demo server they start and stop, how they sign in, and how they
report a check. Playwright from PyPI and Debian's chromium; `adal demo` on 127.0.0.1:8080."""
import os
import signal
import subprocess
import sys
import time
import urllib.request

BASE = "http://127.0.0.1:8080"
PASSWORD = "adal-demo-2026"


def check(what, ok, detail=""):
    """Prints the check's outcome; exits 1 on the first that fails."""
    print(("ok   " if ok else "FAIL ") + what + (f" ({detail})" if detail else ""))
    if not ok:
        sys.exit(1)


def start(log_path, data_directory=None):
    """Starts `adal demo` (on `data_directory` when given, else the default `.adal`), its output
    appended to `log_path`, and waits until it answers."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log = open(log_path, "a")
    environment = dict(os.environ, ADAL_DATA_DIR=data_directory) if data_directory else None
    server = subprocess.Popen([".build/debug/adal", "demo"], stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, env=environment)
    for _ in range(240):
        try:
            urllib.request.urlopen(BASE + "/health", timeout=1)
            return server
        except OSError:
            time.sleep(0.5)
    sys.exit("the server did not start; see " + log_path)


def stop(server):
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=60)


def sign_in(page, login, language=None):
    """Signs in to the demo's Astana as `login` (the demo's password), in `language` if given."""
    page.goto(BASE + "/astana/login" + (f"?lang={language}" if language else ""))
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
