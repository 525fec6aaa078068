#!/usr/bin/env python3
"""The canteen till's page through an outage, in headless Chromium against a real server.

Run by hand from the repository's root (it is not part of `make test`: it needs Playwright
from PyPI, `pip install playwright`, and Debian's chromium; it starts and stops `adal demo`
on 127.0.0.1:8080 itself, on a new data folder in /tmp, so nothing else may listen there):

    swift build && python3 scripts/till-offline-check.py

Signs in as the demo's canteen till, opens the till's page (its service worker registers and
keeps the page's shell), stops the server, reloads the page (served by the worker), charges two
cards (kept in the browser), opens the page in a second tab while the server is still down, drops
the anti-forgery cookie (as a browser restart does), starts the server again, reloads, and checks
that both kept charges were sent and answered; then ends the session, charges once more (kept)
and signs in again (sent); then keeps a charge while the server is down and signs in as a second
till account (created with `adal user create`), which must not send it, and as the first again,
which does; then the office sets today's menu, and the page kept while the server is down offers
its items that day and the typed lines on another (the browser's clock set a day back), both
charges sent and charged; a page left open since the day before is fetched again for the new
day's menu once no card is being typed. Exits 1 on the first check that fails.
"""
import datetime
import os
import shutil
import subprocess
import sys
import time

from playwright.sync_api import sync_playwright

from demo_browser import BASE, check, sign_in as demo_sign_in, start as demo_start, stop

KEPT = "JSON.parse(localStorage.getItem('adal-till-kept:astana') || '[]').length"


# A data folder of its own, new for each run: the demo's pupils start the day with nothing spent
# (a run charges DEMO-1001 twice, and its daily limit would refuse the fourth run of a day).
DATA = "/tmp/adal-till-check"


def start():
    return demo_start(DATA + "-server.log", data_directory=DATA)


def sign_in(page, login):
    demo_sign_in(page, login)
    page.goto(BASE + "/astana/meals/till?lang=ru")


def sent_list(page):
    """Waits until the page has sent every kept charge (at most 20 s), then the answers it lists."""
    for _ in range(100):
        if page.evaluate(KEPT) == 0:
            break
        time.sleep(0.2)
    page.wait_for_timeout(300)
    return [item.inner_text() for item in page.locator("#till-kept li").all()]


def kazakhstan_day():
    """Today in Kazakhstan (UTC+5), as the server and the page's script count days."""
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5)).date().isoformat()


def set_menu(browser, action):
    """The demo's school office saves today's menu (one item, Палау at 300 ₸) or removes it."""
    context = browser.new_context()
    office = context.new_page()
    demo_sign_in(office, "school-admin")
    office.goto(BASE + "/astana/meals/menu?lang=en&day=" + kazakhstan_day())
    if action == "save":
        office.fill("input[name=item1]", "Палау")
        office.fill("input[name=price1]", "300")
    office.click(f"#menu-form button[value={action}]")
    office.wait_for_load_state()
    text = office.locator("main").inner_text()
    check(f"the office's menu {action}d", "Saved." in text, "" if "Saved." in text else text[:300])
    context.close()


def main():
    shutil.rmtree(DATA, ignore_errors=True)
    server = start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            context = browser.new_context()
            page = context.new_page()
            sign_in(page, "canteen-till")
            scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
            check("the worker serves the till's page", scope == BASE + "/astana/meals/till", scope)
            shell = ""
            for _ in range(50):
                shell = page.evaluate("caches.match('/astana/meals/till?shell').then(r => r ? r.text() : '')")
                if shell:
                    break
                time.sleep(0.2)
            check("the shell is kept, without today's meals", "data-shell" in shell and "<h2>" not in shell)
            script = False
            for _ in range(50):
                script = page.evaluate("caches.match('/static/till-offline.js').then(r => !!r)")
                if script:
                    break
                time.sleep(0.2)
            check("the page's script is kept", script)
            kept_id = shell.split('name="_key" value="')[1].split('"')[0]

            stop(server)
            server = None
            page.reload()
            check("reloaded while the server is down, the kept page opens",
                  page.locator("form[data-shell]").count() == 1)
            check("... with a new charge id", page.input_value("input[name=_key]") != kept_id)
            for card, price in [("CARD-4242", "450"), ("CARD-4243", "300")]:
                page.fill("#t_card", card)
                page.fill("input[name=price1]", price)
                page.click("#till-form button[type=submit]")
                page.wait_for_timeout(500)
            check("two charges kept", page.evaluate(KEPT) == 2, page.locator("#till-kept p").inner_text())
            other = context.new_page()
            other.goto(BASE + "/astana/meals/till")
            check("a second tab opens while down, with the kept charges",
                  other.locator("form[data-shell]").count() == 1 and other.evaluate(KEPT) == 2)
            other.close()

            # The browser restarted meanwhile: its anti-forgery cookie (a session cookie) is gone, so
            # the token kept with each charge is stale; they are sent with the fresh page's token.
            context.clear_cookies(name="adal_csrf")
            server = start()
            page.reload()
            sent = sent_list(page)
            check("both sent when the server is back, each answered", page.evaluate(KEPT) == 0 and len(sent) == 2,
                  "; ".join(sent))
            check("reloaded online, the server's page", page.locator("form[data-shell]").count() == 0)

            # The session ends while the till works: the charge typed then is kept, not lost, and
            # sent once the till has signed in again.
            context.clear_cookies(name="adal_session")
            page.fill("#t_card", "CARD-4244")
            page.fill("input[name=price1]", "200")
            # The script keeps the charge, then reloads the page (to the sign-in page).
            with page.expect_navigation():
                page.click("#till-form button[type=submit]")
            page.wait_for_load_state()
            check("a charge after the session ended is kept", page.evaluate(KEPT) == 1, page.url)
            sign_in(page, "canteen-till")
            sent = sent_list(page)
            check("... and sent after signing in again", page.evaluate(KEPT) == 0 and len(sent) == 1, "; ".join(sent))

            # Another till account on the same device: a charge kept by the first is not sent under
            # the second's name; it waits, named on the page, until the first signs in again.
            created = subprocess.run([".build/debug/adal", "user", "create", "--tenant", "astana", "--name",
                                      "Second till", "--role", "canteen_till", "--password-stdin", "canteen-till-2"],
                                     input="adal-demo-2026\n", text=True, capture_output=True,
                                     env=dict(os.environ, ADAL_DATA_DIR=DATA))
            check("a second till account", created.returncode == 0 or "is taken" in created.stderr,
                  (created.stderr + created.stdout).strip()[-300:])
            stop(server)
            server = None
            page.reload()
            page.fill("#t_card", "CARD-4245")
            page.fill("input[name=price1]", "250")
            page.click("#till-form button[type=submit]")
            page.wait_for_timeout(500)
            check("a charge kept by the first till account", page.evaluate(KEPT) == 1)
            server = start()
            sign_in(page, "canteen-till-2")
            page.wait_for_timeout(3000)
            note = page.locator("#till-kept p").inner_text()
            check("signed in as another till, the charge is not sent and names its account",
                  page.evaluate(KEPT) == 1 and "canteen-till" in note and "canteen-till-2" not in note, note)
            sign_in(page, "canteen-till")
            for _ in range(50):
                if page.evaluate(KEPT) == 0:
                    break
                time.sleep(0.2)
            check("... and sent when its own account signs in again", page.evaluate(KEPT) == 0)

            # The school's menu of the day: the kept page offers its items on the day it was kept,
            # the typed lines on another (a charge is checked against its own day's menu).
            set_menu(browser, "save")
            try:
                page.reload()
                shell = ""
                for _ in range(50):
                    shell = page.evaluate("caches.match('/astana/meals/till?shell').then(r => r ? r.text() : '')")
                    if "data-menu-day" in shell:
                        break
                    time.sleep(0.2)
                check("the kept page has the day's menu, marked with its day",
                      f'data-menu-day="{kazakhstan_day()}"' in shell)
                stop(server)
                server = None
                page.reload()
                check("opened the same day while down, it offers the menu's items",
                      page.locator("input[name=menu1]").is_visible() and page.locator("input[name=price1]").count() == 0)
                page.fill("#t_card", "DEMO-1001")
                page.check("input[name=menu1]")
                page.click("#till-form button[type=submit]")
                page.wait_for_timeout(500)
                check("a charge of the menu's item kept", page.evaluate(KEPT) == 1)
                # The same kept page opened on another day: the typed lines instead.
                page.clock.set_fixed_time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1))
                page.reload()
                check("opened on another day, it offers the typed lines",
                      page.locator("input[name=price1]").is_visible() and page.locator("input[name=menu1]").count() == 0)
                page.fill("#t_card", "DEMO-1001")
                page.fill("input[name=price1]", "250")
                page.click("#till-form button[type=submit]")
                page.wait_for_timeout(500)
                check("a typed charge kept", page.evaluate(KEPT) == 2)
                page.clock.set_fixed_time(datetime.datetime.now(datetime.timezone.utc))
                server = start()
                page.reload()
                sent = sent_list(page)
                check("both sent and charged: the menu's item on its day, the typed one on the day before",
                      page.evaluate(KEPT) == 0 and len(sent) == 2 and "Палау" in sent[1] and "250" in sent[0],
                      "; ".join(sent))

                # A page left open since the day before (its day and its menu as they were then): it
                # is fetched again for the new day, between charges, not while a card is typed.
                yesterday = (datetime.date.fromisoformat(kazakhstan_day()) - datetime.timedelta(days=1)).isoformat()
                page.evaluate("""day => {
                    const form = document.getElementById('till-form');
                    form.dataset.day = day;
                    form.querySelector('fieldset[data-menu-day]').remove();
                }""", yesterday)
                page.fill("#t_card", "DEMO-1001")
                page.wait_for_timeout(21000)
                check("while a card is typed, the page of the day before stays",
                      page.evaluate("document.getElementById('till-form').dataset.day") == yesterday
                      and page.input_value("#t_card") == "DEMO-1001")
                page.fill("#t_card", "")
                renewed = False
                for _ in range(125):
                    renewed = page.evaluate("document.getElementById('till-form').dataset.day") == kazakhstan_day()
                    if renewed:
                        break
                    time.sleep(0.2)
                check("then fetched again for the new day, with its menu",
                      renewed and page.locator("input[name=menu1]").is_visible())
            finally:
                if server is not None:
                    set_menu(browser, "remove")
            browser.close()
    finally:
        if server is not None:
            stop(server)


if __name__ == "__main__":
    main()
