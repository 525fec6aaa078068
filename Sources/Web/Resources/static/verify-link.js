// A certificate's QR code opens /V#SL1:… — the token after "#", which browsers keep to
// themselves. This hands it to the page's form (as ?token=) so the server can check it; without
// script the page still offers the form to paste into.
(function () {
  const fragment = window.location.hash.slice(1);
  const form = document.getElementById("verify-form");
  if (!fragment || !form) return;
  let token;
  try {
    token = decodeURIComponent(fragment);
  } catch (error) {
    token = fragment;
  }
  history.replaceState(null, "", window.location.pathname);
  form.elements.token.value = token;
  form.submit();
})();
