// The board: renders the server's JSON, follows it over server-sent events, and says
// plainly when what it shows may be old. No library; names are set as text, never HTML.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("board-config").textContent);
  const texts = config.texts;
  const STALE_AFTER_MS = 25000; // the server ticks every 10 s; two missed ticks = stale
  let offsetMs = 0; // server clock minus ours
  let lastHeard = Date.now();
  let lastData = null;
  let source = null;
  let stale = false;

  const zoneFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timezone, day: "2-digit", month: "2-digit", year: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  function parts(ms) {
    const p = {};
    for (const x of zoneFormat.formatToParts(new Date(ms))) p[x.type] = x.value;
    return p;
  }

  function fill(id, rows, showRoom) {
    const list = document.getElementById(id);
    const items = rows.map(function (r) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = r.name;
      li.appendChild(name);
      if (r.corrected) {
        const mark = document.createElement("span");
        mark.className = "corrected";
        mark.title = "corrected";
        mark.textContent = texts.corrected;
        name.appendChild(mark);
      }
      const meta = document.createElement("span");
      meta.className = "meta";
      const bits = [];
      if (showRoom && r.room) bits.push(r.room);
      if (r.at && id !== "absent") bits.push(texts.since + " " + r.at);
      meta.textContent = bits.join(" · ");
      li.appendChild(meta);
      return li;
    });
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "nobody";
      li.textContent = texts.nobody;
      items.push(li);
    }
    list.replaceChildren.apply(list, items);
    document.getElementById(id + "-count").textContent = String(rows.length);
  }

  function render(data) {
    lastData = data;
    offsetMs = data.server_ms - Date.now();
    fill("absent", data.absent, true);
    fill("present", data.present, true);
    fill("unscheduled", data.unscheduled, false);
    document.getElementById("unscheduled-section").hidden = data.unscheduled.length === 0;
    document.body.dataset.version = String((Number(document.body.dataset.version) || 0) + 1);
  }

  function setStale(on) {
    stale = on;
    document.body.classList.toggle("is-stale", on);
    const banner = document.getElementById("stale");
    banner.hidden = !on;
    if (on) {
      const p = parts(lastHeard + offsetMs);
      banner.textContent = texts.stale + " " + texts.stale_since + ": " + p.hour + ":" + p.minute + ":" + p.second;
    }
  }

  function heard() {
    lastHeard = Date.now();
    if (stale) setStale(false);
  }

  function connect() {
    if (source) source.close();
    const url = "/events" + (config.token ? "?token=" + encodeURIComponent(config.token) : "");
    source = new EventSource(url);
    source.addEventListener("board", function (e) { heard(); render(JSON.parse(e.data)); });
    source.addEventListener("tick", function (e) {
      heard();
      offsetMs = JSON.parse(e.data).server_ms - Date.now();
    });
    source.addEventListener("stale", function () { setStale(true); });
    source.addEventListener("fresh", heard);
    source.onopen = heard;
    // EventSource reconnects by itself (the server asks for a 2 s retry); meanwhile say so.
    source.onerror = function () { setStale(true); };
  }

  function tick() {
    const p = parts(Date.now() + offsetMs);
    document.getElementById("date").textContent = p.day + "/" + p.month + "/" + p.year;
    document.getElementById("time").textContent = p.hour + ":" + p.minute + ":" + p.second;
    if (Date.now() - lastHeard > STALE_AFTER_MS) {
      setStale(true);
      // A half-open connection never errors: start a new one.
      lastHeard = Date.now() - STALE_AFTER_MS / 2;
      connect();
    }
  }

  if (config.initial) render(config.initial);
  connect();
  tick();
  setInterval(tick, 1000);
})();
