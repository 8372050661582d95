// Admin pages: confirmation for destructive forms, search as you type on the lists,
// and the unknown-card list kept live.
"use strict";
(function () {
  document.addEventListener("submit", function (e) {
    const message = e.target.dataset && e.target.dataset.confirm;
    if (message && !window.confirm(message)) e.preventDefault();
  });

  // A list's search box (templates/_lists.html) is a plain GET form; here it searches
  // as you type: the list's fragment (?partial=1) replaces the results in place and the
  // address becomes the search's, so reload, back and a shared link show the same.
  document.querySelectorAll("form[data-live-search]").forEach(function (form) {
    const target = document.getElementById(form.dataset.liveSearch);
    if (!target) return;
    let timer = null;
    let controller = null;
    let latest = 0;

    function queryOf() {
      const params = new URLSearchParams(new FormData(form));
      for (const [key, value] of Array.from(params)) if (!value) params.delete(key);
      return params.toString();
    }
    let shown = queryOf();  // the search whose results the page shows

    function search() {
      const query = queryOf();
      if (query === shown) {
        // The same search again (the box's change event as the keyboard leaves it):
        // the results stay, and so does the focus of someone tabbing into them.
        if (controller) controller.abort();
        latest++;
        target.removeAttribute("aria-busy");
        return;
      }
      const params = new URLSearchParams(query);
      const address = form.getAttribute("action") + (query ? "?" + query : "");
      params.set("partial", "1");
      if (controller) controller.abort();
      controller = new AbortController();
      const mine = ++latest;
      target.setAttribute("aria-busy", "true");
      fetch(form.getAttribute("action") + "?" + params.toString(), {
        signal: controller.signal, credentials: "same-origin",
      }).then(function (response) {
        // Signed out meanwhile, or a 400: the whole page says why.
        if (response.redirected || !response.ok) { window.location.assign(address); return null; }
        return response.text();
      }).then(function (html) {
        if (html === null || mine !== latest) return;
        target.innerHTML = html;
        target.removeAttribute("aria-busy");
        // Screen readers hear the new count, not the whole table read out again.
        const status = form.querySelector("[data-search-status]");
        const count = target.querySelector("[data-count]");
        if (status) status.textContent = count ? count.textContent : "";
        target.dataset.query = query;
        shown = query;
        history.replaceState(null, "", address);
      }).catch(function (error) {
        if (error.name !== "AbortError") target.removeAttribute("aria-busy");
      });
    }

    function soon() {
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    }
    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      clearTimeout(timer);
      search();
    });
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
    // Keep a row whose field someone is using: rebuilding it would lose what they typed.
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
      if (template.content.firstElementChild) {  // none for a role that may not assign
        const form = template.content.firstElementChild.cloneNode(true);
        form.querySelector("input[name=card]").value = u.card;
        td.appendChild(form);
      }
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
