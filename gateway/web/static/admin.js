// Admin pages: confirmation for destructive forms, search as you type on the lists,
// and the unknown cards' list kept live.
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

  // The unknown cards' list (routes_unknown.py): the stream says when the whole list
  // changed (its fingerprint); then this page's own fragment, as the server renders it
  // for this page's search and cursor, replaces the rows.
  const live = document.querySelector("[data-live-list]");
  if (!live) return;
  const dot = document.getElementById("unknown-live");
  let pending = null;

  function topLevel(root, node) {
    while (node.parentNode !== root) node = node.parentNode;
    return node;
  }

  function merge(html) {
    const fresh = document.createElement("template");
    fresh.innerHTML = html;
    const rows = document.getElementById("unknown-rows");
    const active = document.activeElement;
    // Keep a row whose field someone is using: rebuilding it would lose what they typed.
    const busy = rows && active && rows.contains(active) ? active.closest("tr") : null;
    const freshRows = fresh.content.getElementById("unknown-rows");
    const twin = busy && freshRows
      ? Array.from(freshRows.children).find(function (tr) { return tr.dataset.card === busy.dataset.card; })
      : null;
    if (!twin) {
      live.replaceChildren(fresh.content);
      return;
    }
    // The rows around it change, the busy row stays put: taken out and put back, it
    // would lose the keyboard's focus (and a screen reader's place). So does its table;
    // the fragment's other parts (the count, the pager) replace theirs around it.
    const items = Array.from(freshRows.children);
    const at = items.indexOf(twin);
    Array.from(rows.children).forEach(function (tr) { if (tr !== busy) tr.remove(); });
    items.slice(0, at).forEach(function (tr) { rows.insertBefore(tr, busy); });
    items.slice(at + 1).forEach(function (tr) { rows.appendChild(tr); });
    const kept = topLevel(live, rows);
    const replaced = topLevel(fresh.content, freshRows);
    Array.from(live.childNodes).forEach(function (n) { if (n !== kept) n.remove(); });
    let before = true;
    Array.from(fresh.content.childNodes).forEach(function (n) {
      if (n === replaced) { before = false; return; }
      if (before) live.insertBefore(n, kept); else live.appendChild(n);
    });
  }

  function refresh() {
    const params = new URLSearchParams(window.location.search);
    params.set("partial", live.dataset.partial);
    const query = live.dataset.query;
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(window.location.pathname + "?" + params.toString(), {
      signal: pending.signal, credentials: "same-origin",
    }).then(function (response) {
      return response.ok && !response.redirected ? response.text() : null;
    }).then(function (html) {
      // A search answered meanwhile (or is running): its results are as new.
      if (html === null || live.dataset.query !== query || live.hasAttribute("aria-busy")) return;
      merge(html);
    }).catch(function () { /* aborted by a newer change, or offline: the next one */ });
  }

  const source = new EventSource(live.dataset.liveList);
  source.addEventListener("unknown", function (e) {
    const shown = live.querySelector("[data-state]");
    if (!shown || shown.dataset.state !== JSON.parse(e.data).state) refresh();
  });
  source.onopen = function () { dot.classList.add("on"); };
  source.onerror = function () { dot.classList.remove("on"); };
})();
