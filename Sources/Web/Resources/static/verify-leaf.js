// Checks, in the reader's own browser, that the leaf shown on the page is in the tree whose
// signed root the page shows: SHA-256(0x00 || entry), then the inclusion proof walked as in
// RFC 9162 section 2.1.3.2. The page works without it; this only removes the need to trust it.
(async function () {
  const box = document.getElementById("browser-check");
  if (!box || !window.crypto || !window.crypto.subtle) return;
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const fromHex = (text) => Uint8Array.from(text.match(/../g) || [], (h) => parseInt(h, 16));
  const sha256 = async (...parts) => {
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) { joined.set(part, at); at += part.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  };
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  try {
    const entry = fromBase64(box.dataset.entry);
    const root = fromBase64(box.dataset.root);
    const proof = box.dataset.proof.split(" ").filter((p) => p.length > 0).map(fromHex);
    let fn = Number(box.dataset.index);
    let sn = Number(box.dataset.size) - 1;
    let r = await sha256(Uint8Array.of(0), entry);
    let valid = fn <= sn;
    for (const sibling of proof) {
      if (sn === 0) { valid = false; break; }
      if ((fn & 1) === 1 || fn === sn) {
        r = await sha256(Uint8Array.of(1), sibling, r);
        if ((fn & 1) === 0) {
          while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
        }
      } else {
        r = await sha256(Uint8Array.of(1), r, sibling);
      }
      fn >>= 1;
      sn >>= 1;
    }
    valid = valid && sn === 0 && same(r, root);
    box.textContent = valid ? box.dataset.ok : box.dataset.fail;
    box.className = valid ? "verified" : "error";
  } catch (error) {
    box.textContent = box.dataset.fail;
    box.className = "error";
  }
})();
