// The verify page's two helpers; without script the page still offers the form to paste into.
//
// 1. A certificate's QR code opens /V#SL1:… — the token after "#", which browsers keep to
//    themselves. It is handed to the form (as ?token=) so the server can check it.
// 2. A picture of a certificate (a photo or a screenshot) is sent to /api/v1/qr/read, which
//    reads the code in it; the text goes into the form, which is then submitted.
(function () {
  const form = document.getElementById("verify-form");
  if (!form) return;

  const fragment = window.location.hash.slice(1);
  if (fragment) {
    let token;
    try {
      token = decodeURIComponent(fragment);
    } catch (error) {
      token = fragment;
    }
    history.replaceState(null, "", window.location.pathname);
    form.elements.token.value = token;
    form.submit();
    return;
  }

  const picture = document.getElementById("picture");
  if (!picture || !window.fetch) return;
  picture.hidden = false;
  const input = document.getElementById("picture-file");
  const status = document.getElementById("picture-status");

  // Photos larger than the server takes are drawn smaller (at most 1600 px on the long side)
  // and sent as JPEG; a QR code stays readable at that size.
  async function shrink(file) {
    if (file.size <= 900 * 1024 || !window.createImageBitmap) return file;
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  }

  input.addEventListener("change", async function () {
    const file = input.files && input.files[0];
    if (!file) return;
    status.textContent = picture.dataset.reading;
    try {
      const body = await shrink(file);
      const response = await fetch("/api/v1/qr/read", {
        method: "POST",
        headers: { "Content-Type": body.type || "application/octet-stream" },
        body: body,
      });
      if (!response.ok) throw new Error("unreadable");
      const answer = await response.json();
      form.elements.token.value = answer.text;
      form.submit();
    } catch (error) {
      status.textContent = picture.dataset.failed;
    }
  });
})();
