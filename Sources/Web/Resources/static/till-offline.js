// The canteen till's page keeps serving while the server cannot be reached.
//
// Each charge is posted from here instead of by the browser, so a lost connection leaves the
// page in place: the charge is kept in this browser (localStorage), with its id and the time the
// meal was served, and the form is cleared for the next pupil under a new id. Kept charges are
// sent in the order they were served when the connection is back (every 20 seconds, and at once
// when the browser says it is online); the server books each at its time (served_at) and charges
// it once by its id, however often it is sent. A kept charge belongs to the till account signed in
// when it was taken: another account signed in on the same device does not send it (the step would
// name the wrong till in the audit log); it waits, named on the page, for its own account to sign
// in here again. Without script the form posts as before. Where
// the browser allows service workers (HTTPS, or localhost), till-worker.js keeps the page itself,
// so it opens after a reload or a restart while the server is down.
(function () {
  const form = document.getElementById("till-form");
  const panel = document.getElementById("till-kept");
  if (!form || !panel || !window.fetch || !window.localStorage || !window.URLSearchParams) return;

  const store = "adal-till-kept:" + form.dataset.slug;
  const note = panel.querySelector("p");
  const sentTitle = panel.querySelector("h2");
  const sentList = panel.querySelector("ul");
  // At most this many charges are kept: a day's meals at a busy canteen.
  const limit = 2000;

  function kept() {
    try {
      return JSON.parse(localStorage.getItem(store) || "[]");
    } catch (error) {
      return [];
    }
  }

  function keep(list) {
    localStorage.setItem(store, JSON.stringify(list));
    show();
  }

  // The till account this page is signed in as (the server's page, or the kept shell of the
  // last one loaded), by id and login.
  function till() {
    const current = document.getElementById("till-form") || form;
    return { id: current.dataset.till || "", login: current.dataset.tillName || "" };
  }

  // Whether a kept charge is this account's to send; one kept before charges carried their
  // account is sent by whoever signs in, as it was then.
  function mine(charge) {
    return !charge._till || charge._till === till().id;
  }

  // Adds a charge to the kept ones, as the signed-in account's; false when it cannot be kept
  // (the list full, or the browser's storage refusing it).
  function keepCharge(values) {
    const list = kept();
    const account = till();
    list.push(Object.assign({}, values, { _till: account.id, _tillName: account.login }));
    try {
      if (list.length > limit) return false;
      keep(list);
      return true;
    } catch (error) {
      return false;
    }
  }

  // Whether the last send found the session ended (the kept charges wait for a new sign-in).
  let signIn = false;

  function show() {
    const list = kept();
    const count = list.filter(mine).length;
    const others = new Map();
    for (const charge of list) {
      if (!mine(charge)) others.set(charge._tillName, (others.get(charge._tillName) || 0) + 1);
    }
    const lines = [];
    if (signIn) lines.push(note.dataset.signin);
    else if (count > 0) lines.push(note.dataset.kept.replace("{1}", String(count)));
    for (const [login, number] of others) {
      lines.push(note.dataset.other.split("{1}").join(login).replace("{2}", String(number)));
    }
    note.textContent = lines.join(" ");
    note.hidden = lines.length === 0;
    panel.hidden = note.hidden && sentList.children.length === 0;
  }

  // A random (version 4) UUID; crypto.randomUUID needs a secure context, this does not.
  function newID() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function fields(formElement) {
    const values = {};
    for (const [name, value] of new FormData(formElement)) values[name] = String(value);
    return values;
  }

  // Posts a charge's fields; the server's page, or null when the server cannot be reached (no
  // answer, or a proxy's 502/503/504 while the server behind it is down).
  async function post(values) {
    const body = new URLSearchParams(values);
    body.delete("_till");
    body.delete("_tillName");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: body,
      });
      return [502, 503, 504].includes(response.status) ? null : response;
    } catch (error) {
      return null;
    }
  }

  function page(html) {
    return new DOMParser().parseFromString(html, "text/html");
  }

  // The server's page replaces this one's content (the kept charges' panel stays as it is).
  function replace(doc) {
    const main = document.querySelector("main");
    const fresh = doc.querySelector("main");
    if (!main || !fresh) return;
    const current = document.getElementById("till-kept");
    main.replaceWith(fresh);
    const placeholder = document.getElementById("till-kept");
    if (placeholder && current) placeholder.replaceWith(current);
    start();
  }

  // A response that is the till's page (not the sign-in page it redirects to).
  function isTillPage(response, doc) {
    return !response.redirected && doc.getElementById("till-form") !== null;
  }

  let sending = false;
  async function sendKept() {
    if (sending) return;
    sending = true;
    try {
      let charge = kept().find(mine);
      while (charge) {
        // With the page's own anti-forgery token: the one kept with the charge may be gone (the
        // browser restarted meanwhile).
        const current = document.getElementById("till-form");
        const token = current && current.elements._csrf ? current.elements._csrf.value : charge._csrf;
        const response = await post(Object.assign({}, charge, { _csrf: token }));
        if (response === null) break;
        const doc = page(await response.text());
        signIn = !isTillPage(response, doc);
        if (signIn) break;
        const answer = doc.querySelector("main section[aria-live], main p[role=alert]");
        const item = document.createElement("li");
        item.textContent = new Date(charge.served_at).toLocaleTimeString() + " " + charge.card + ": " +
          (answer ? answer.textContent.trim() : String(response.status));
        sentList.prepend(item);
        sentTitle.hidden = false;
        const sent = charge._key;
        keep(kept().filter((other) => other._key !== sent));
        charge = kept().find(mine);
      }
    } finally {
      sending = false;
      show();
    }
  }

  // The day in Kazakhstan (UTC+5) by this device's clock.
  function today() {
    return new Date(Date.now() + 5 * 3600 * 1000).toISOString().slice(0, 10);
  }

  // A page left open across midnight offers the day before's menu, and the server would refuse
  // the first charge of the morning that named its items: once the day has changed the page is
  // fetched again, between charges (not while a card is typed), when the server can be reached.
  let renewing = false;
  async function renewDay() {
    const current = document.getElementById("till-form");
    if (renewing || !current || current.hasAttribute("data-shell") || current.dataset.day === today()) return;
    if (current.elements.card && current.elements.card.value) return;
    renewing = true;
    try {
      const response = await fetch(window.location.pathname + window.location.search, { credentials: "same-origin" });
      const doc = page(await response.text());
      const still = document.getElementById("till-form");
      if (isTillPage(response, doc) && still === current && !current.elements.card.value) replace(doc);
    } catch (error) {
      // Not reachable: the page stays; a charge is kept and sent later, as any other.
    } finally {
      renewing = false;
    }
  }

  let started = null;
  function start() {
    const current = document.getElementById("till-form");
    if (!current || current === started) return;
    started = current;
    current.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = fields(current);
      // Sent on every charge, so a charge that reached the server although its answer was lost
      // is the same request when sent again (replayed, not refused as another body).
      values.served_at = new Date().toISOString();
      const button = current.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      const response = await post(values);
      if (response !== null) {
        const doc = page(await response.text());
        if (isTillPage(response, doc)) {
          replace(doc);
          sendKept();
          return;
        }
        // The session ended (sent to sign in) or took the page's anti-forgery token with it:
        // the charge is kept, and sent once the page is back and signed in, not typed again.
        if (response.redirected || response.status === 401 || response.status === 403) keepCharge(values);
        window.location.reload();
        return;
      }
      // The server cannot be reached: the charge is kept, the form cleared for the next pupil.
      if (!keepCharge(values)) {
        // Nothing is cleared that could not be kept: the form stays as typed.
        if (button) button.disabled = false;
        return;
      }
      current.reset();
      for (const input of current.querySelectorAll("input:not([type=hidden]):not([type=checkbox])")) input.value = "";
      current.elements._key.value = newID();
      if (button) button.disabled = false;
      current.elements.card.focus();
    });
  }

  // The page as the service worker kept it carries the id it was kept with: each opening of
  // it gets a new one, so two charges are never one.
  if (form.hasAttribute("data-shell")) form.elements._key.value = newID();

  // The kept page has the school's menu of the day it was kept on, and the typed lines in
  // reserve: opened on that day (in Kazakhstan, UTC+5) it offers the menu's items, on another
  // day the typed lines, since a charge is checked against the menu of the day it was served.
  const menu = form.querySelector("fieldset[data-menu-day]");
  const reserve = form.querySelector("fieldset[data-lines]");
  if (menu && reserve) {
    if (menu.dataset.menuDay === today()) {
      reserve.remove();
    } else {
      menu.remove();
      reserve.hidden = false;
      reserve.disabled = false;
    }
  }
  if ("serviceWorker" in navigator && window.isSecureContext) {
    const scope = "/" + form.dataset.slug + "/meals/till";
    navigator.serviceWorker.register("/static/till-worker.js", { scope: scope }).catch(() => {});
  }

  start();
  show();
  window.addEventListener("online", sendKept);
  setInterval(() => {
    sendKept();
    renewDay();
  }, 20000);
  sendKept();
})();
