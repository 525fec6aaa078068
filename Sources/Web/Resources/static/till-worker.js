// The canteen till's service worker: the till's page opens even while the server cannot be
// reached — after a reload, or when the browser was closed during an outage.
//
// till-offline.js registers it with the till's page as its scope (/{city}/meals/till); it needs
// a secure context (HTTPS, or localhost). Each time the page loads from the server, the worker
// fetches the page's shell (?shell: the form, without today's meals or anyone's name) and keeps
// it with the shell's script and style; when the server cannot be reached (no answer, or a
// proxy's 502/503/504) it serves the kept shell, whose form keeps charges as till-offline.js
// does. Nothing else is touched: posts and other pages go to the network as they are.
const cacheName = "adal-till-1";
const scope = new URL(self.registration.scope).pathname;
const shellKey = scope + "?shell";

// A proxy's answer while the server behind it is down counts as no answer.
function unreachable(response) {
  return response.status === 502 || response.status === 503 || response.status === 504;
}

// Fetches and keeps the shell, in the language the page was asked in; a sign-in page (the
// session ended) or an error is not kept.
async function keepShell(pageURL) {
  const language = pageURL.searchParams.get("lang");
  try {
    const response = await fetch(shellKey + (language ? "&lang=" + encodeURIComponent(language) : ""), {
      credentials: "same-origin",
    });
    if (!response.ok || response.redirected) return;
    const cache = await caches.open(cacheName);
    const text = await response.clone().text();
    await cache.put(shellKey, response);
    // The shell's own script and style, which the page that registered the worker loaded
    // before the worker could keep them.
    for (const [, path] of text.matchAll(/(?:src|href)="(\/static\/[^"?#]+)"/g)) {
      const file = await fetch(path, { credentials: "same-origin" });
      if (file.ok) await cache.put(path, file);
    }
  } catch (error) {
    // The server went away meanwhile: the shell kept before stays.
  }
}

// The page from the server when it answers, else the kept shell.
async function page(event, url) {
  try {
    const response = await fetch(event.request);
    if (!unreachable(response)) {
      event.waitUntil(keepShell(url));
      return response;
    }
    const kept = await caches.match(shellKey);
    return kept || response;
  } catch (error) {
    const kept = await caches.match(shellKey);
    return kept || Response.error();
  }
}

// A file of /static/ from the server when it answers (kept for later), else the kept copy.
async function asset(request) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) {
      await cache.put(request, response.clone());
      return response;
    }
    if (!unreachable(response)) return response;
    return (await cache.match(request, { ignoreVary: true })) || response;
  } catch (error) {
    return (await cache.match(request, { ignoreVary: true })) || Response.error();
  }
}

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== cacheName) await caches.delete(name);
      }
      await self.clients.claim();
      // The page that registered the worker loaded before it: its shell is kept now.
      await keepShell(new URL(self.registration.scope));
    })()
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === scope && !url.searchParams.has("shell")) {
    event.respondWith(page(event, url));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(asset(request));
  }
});
