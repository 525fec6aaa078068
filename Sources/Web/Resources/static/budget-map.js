// The budget map's small helper; without script every marker is still a link with its name.
// Pointing at or focusing a marker shows its name and amounts beside the map; Escape hides them.
(function () {
  const map = document.getElementById("budget-map");
  const panel = document.getElementById("map-info");
  if (!map || !panel) return;

  function show(marker) {
    for (const other of map.querySelectorAll(".marker.selected")) other.classList.remove("selected");
    marker.classList.add("selected");
    panel.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = marker.dataset.name;
    const planned = document.createElement("div");
    planned.textContent = "Σ " + marker.dataset.planned;
    const spent = document.createElement("div");
    spent.textContent = "→ " + marker.dataset.spent;
    const link = document.createElement("a");
    link.href = marker.getAttribute("href");
    link.textContent = marker.dataset.code;
    panel.append(title, planned, spent, link);
    panel.hidden = false;
  }

  for (const marker of map.querySelectorAll(".marker")) {
    marker.addEventListener("mouseenter", () => show(marker));
    marker.addEventListener("focus", () => show(marker));
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") panel.hidden = true;
  });
})();
