// Admin pages: confirmation for destructive forms, and the unknown-card list kept live.
"use strict";
(function () {
  document.addEventListener("submit", function (e) {
    const message = e.target.dataset && e.target.dataset.confirm;
    if (message && !window.confirm(message)) e.preventDefault();
  });

  const rows = document.getElementById("unknown-rows");
  if (!rows) return;
  const template = document.getElementById("assign-template");
  const dot = document.getElementById("unknown-live");

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = String(text);
    if (cls) td.className = cls;
    return td;
  }

  function render(data) {
    // Keep a row whose select someone is using: rebuilding it would lose their choice.
    const busy = document.activeElement && rows.contains(document.activeElement)
      ? document.activeElement.closest("tr") : null;
    const items = data.cards.map(function (u) {
      if (busy && busy.dataset.card === u.card) return busy;
      const tr = document.createElement("tr");
      tr.dataset.card = u.card;
      tr.appendChild(cell(u.card, "mono"));
      tr.appendChild(cell(u.reader));
      tr.appendChild(cell(u.last_seen));
      tr.appendChild(cell(u.count));
      const td = document.createElement("td");
      const form = template.content.firstElementChild.cloneNode(true);
      form.querySelector("input[name=card]").value = u.card;
      td.appendChild(form);
      tr.appendChild(td);
      return tr;
    });
    if (busy && items.indexOf(busy) >= 0) {
      // The rows around it change, the busy row stays put: taken out and put back, it
      // would lose the keyboard's focus (and a screen reader's place).
      Array.from(rows.children).forEach(function (tr) { if (tr !== busy) tr.remove(); });
      const at = items.indexOf(busy);
      items.slice(0, at).forEach(function (tr) { rows.insertBefore(tr, busy); });
      items.slice(at + 1).forEach(function (tr) { rows.appendChild(tr); });
    } else {
      rows.replaceChildren.apply(rows, items);
    }
    document.getElementById("unknown-table").hidden = items.length === 0;
    document.getElementById("unknown-empty").hidden = items.length !== 0;
  }

  const source = new EventSource("/people/live");
  source.addEventListener("unknown", function (e) { render(JSON.parse(e.data)); });
  source.onopen = function () { dot.classList.add("on"); };
  source.onerror = function () { dot.classList.remove("on"); };
})();
