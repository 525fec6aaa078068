#!/usr/bin/env python3
"""A balance return the card can no longer take, and its bank transfer, in headless Chromium.

Run by hand from the repository's root (it is not part of `make test`: it needs Playwright from
PyPI, `pip install playwright`, and Debian's chromium and PostgreSQL client; it starts and stops
`adal demo` on 127.0.0.1:8080 itself, on a data folder of its own, so nothing else may listen
there):

    swift build && python3 scripts/payout-pages-check.py

The demo parent's child was topped up when the demo was seeded; the check moves that top-up 200
days back in the demo's database (as if paid last school year: past the simulated provider's
180-day refund window), then, in Russian: the parent returns the whole balance from the child's
page; the provider fails the part (`refund_window_expired`) and the page says the card can no
longer take it and offers a bank transfer; a mistyped IBAN is refused with the reason; a good
one makes a payout waiting for the school; the school's office sees it on its page of transfers
with the whole IBAN, records it paid with a payment order's number; the parent's page then says
so. Screenshots go to .adal/payout-check/. Exits 1 on the first check that fails.
"""
import json
import os
import shutil
import subprocess
import sys
import time

from playwright.sync_api import sync_playwright

from demo_browser import BASE, check, sign_in, start as demo_start, stop

DATA = "/tmp/adal-payout-check"
SHOTS = ".adal/payout-check"


def start():
    """The demo on a data folder of its own, new each time."""
    shutil.rmtree(DATA, ignore_errors=True)
    return demo_start(SHOTS + "/server.log", data_directory=DATA)


def psql(sql):
    """Runs `sql` as the demo cluster's superuser over its socket; the output's first line."""
    pgdata = DATA + "/pgdata"
    port = open(pgdata + "/postmaster.pid").read().splitlines()[3].strip()
    password = json.load(open(DATA + "/credentials.json"))["superuserPassword"]
    client = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    done = subprocess.run([client, "-h", pgdata, "-p", port, "-U", "postgres", "-d", "adal", "-tA", "-c", sql],
                          env=dict(os.environ, PGPASSWORD=password), capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit("psql: " + done.stderr)
    return done.stdout.strip()


def main():
    server = start()
    try:
        moved = psql("UPDATE transfers SET created_at = created_at - interval '200 days' "
                     "WHERE kind = 'top_up' AND status = 'posted' RETURNING 1")
        check("the demo's posted top-ups moved 200 days back", len(moved.splitlines()) >= 1, moved)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            parent = browser.new_page(viewport={"width": 1000, "height": 1600})
            sign_in(parent, "parent", "ru")
            parent.goto(BASE + "/astana/meals?lang=ru")
            parent.click("ul.cards li a >> nth=0")
            parent.wait_for_load_state()
            child = parent.url
            parent.fill("#return-amount", "")
            parent.click("form[action$='/return'] button[type=submit]")
            parent.wait_for_load_state()
            # The demo's job runner asks the provider at once; it answers through the webhook.
            for _ in range(40):
                parent.goto(child)
                if "карта больше не может принять возврат" in parent.inner_text("main"):
                    break
                time.sleep(0.5)
            text = parent.inner_text("main")
            check("the part says the card can no longer take it", "карта больше не может принять возврат" in text)
            check("the page offers a bank transfer", parent.is_visible("#payout-iban"))
            check("it says how much", "Сейчас банковским переводом можно получить до" in text, text[-600:])
            check("nothing can go back to a card: no return form", not parent.is_visible("#return-amount"))
            parent.screenshot(path=SHOTS + "/1-offered.png", full_page=True)
            def pay_out(iban):
                parent.fill("#payout-iban", iban)
                parent.fill("#payout-holder", "Demo parent")
                parent.click("form[action$='/payout'] button[type=submit]")
                parent.wait_for_load_state()
                return parent.inner_text("main")

            text = pay_out("KZ86125KZT5004100101")
            check("a mistyped IBAN is refused with the reason in Russian",
                  "Контрольные цифры IBAN не сходятся" in text, text[:200])
            parent.screenshot(path=SHOTS + "/2-mistyped.png", full_page=True)
            text = pay_out("kz86 125k zt50 0410 0100")
            check("the payout waits for the school, the account masked",
                  "KZ•• •••• •••• •••• 0100, Demo parent: ждёт перевода от школы" in text, text[-400:])
            check("no whole IBAN on the parent's page", "5004100100" not in text)
            parent.screenshot(path=SHOTS + "/3-waiting.png", full_page=True)

            office = browser.new_context().new_page()
            sign_in(office, "school-admin", "ru")
            office.goto(BASE + "/astana/meals/payouts?lang=ru")
            text = office.inner_text("main")
            check("the office's page lists it with the whole IBAN", "KZ86 125K ZT50 0410 0100" in text, text[:300])
            office.screenshot(path=SHOTS + "/4-office.png", full_page=True)
            office.fill("input[name=reference]", "ПП-2026-0001")
            office.click("form[action$='/paid'] button[type=submit]")
            office.wait_for_load_state()
            text = office.inner_text("main")
            check("recorded: nothing waits", "Переводов к оплате нет." in text)
            check("the office's page lists it among those made", "Сделанные и возвращённые" in text
                  and "ПП-2026-0001" in text, text[-400:])
            auditor = browser.new_context().new_page()
            sign_in(auditor, "auditor", "ru")
            auditor.goto(BASE + "/astana/meals/city?lang=ru")
            auditor.click("a[href='/astana/meals/payouts']")
            auditor.wait_for_load_state()
            text = auditor.inner_text("main")
            check("an auditor sees the account match the guardian's step", "совпадает с шагом родителя · запись журнала #" in text, text[-400:])
            check("an auditor has no forms to record", auditor.locator("input[name=reference]").count() == 0)
            auditor.screenshot(path=SHOTS + "/6-auditor.png", full_page=True)
            parent.goto(child)
            text = parent.inner_text("main")
            check("the parent's page says it was paid", "переведено школой, платёжное поручение ПП-2026-0001" in text)
            parent.screenshot(path=SHOTS + "/5-paid.png", full_page=True)
            browser.close()
    finally:
        stop(server)


if __name__ == "__main__":
    main()
