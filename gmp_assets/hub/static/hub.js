// Sortable tables (click a heading) and the review queue's confirm buttons.
document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("th[data-type]").forEach((th, column) => {
    th.addEventListener("click", () => {
      const numeric = th.dataset.type === "num";
      const ascending = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
      th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
      const index = Array.from(th.parentNode.children).indexOf(th);
      const body = table.tBodies[0];
      const value = (row) => {
        const cell = row.children[index];
        const raw = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
        return numeric ? parseFloat(raw) || 0 : raw.toLowerCase();
      };
      Array.from(body.rows)
        .sort((a, b) => (value(a) > value(b) ? 1 : value(a) < value(b) ? -1 : 0) * (ascending ? 1 : -1))
        .forEach((row) => body.appendChild(row));
    });
  });
});

document.querySelectorAll("form.confirm").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = form.parentNode.querySelector(".result");
    result.textContent = "confirming...";
    const response = await fetch("/api/mappings/confirm", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ project_key: form.dataset.key, raw_division_name: form.dataset.name,
                             canonical_code: form.elements.code.value.trim() }),
    });
    const body = await response.json();
    result.textContent = response.ok ? `Confirmed as ${body.canonical_code}. ${body.rerun.message}` : `Refused: ${body.error}`;
    result.className = "result small " + (response.ok ? "good" : "bad");
  });
});
