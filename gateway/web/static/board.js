// The board: renders the server's JSON, follows it over server-sent events, and says
// plainly when what it shows may be old. No library; names are set as text, never HTML.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("board-config").textContent);
  const texts = config.texts;
  const STALE_AFTER_MS = 25000; // the server ticks every 10 s; two missed ticks = stale
  let offsetMs = 0; // server clock minus ours
  let lastHeard = Date.now();
  let lastFresh = Date.now(); // when the data shown was last known to be current
  let lastData = null;
  let version = null; // the server's version of lastData (the events' id)
  let source = null;
  // Two reasons to say the board is old: the connection is lost (the page knows), or
  // the server has had no fresh data from the database for a while (it says so).
  let connectionLost = false;
  let dataStale = false;

  const zoneFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timezone, day: "2-digit", month: "2-digit", year: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  function parts(ms) {
    const p = {};
    for (const x of zoneFormat.formatToParts(new Date(ms))) p[x.type] = x.value;
    return p;
  }

  function fill(id, rows, showRoom, count) {
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
      // A board that shows no names ([web] board = "counts") says so instead.
      li.textContent = count > 0 ? texts.no_names : texts.nobody;
      items.push(li);
    }
    list.replaceChildren.apply(list, items);
    document.getElementById(id + "-count").textContent = String(count);
  }

  function applyDelta(data, change) {
    const next = Object.assign({}, data);
    for (const key of change.drop) delete next[key];
    Object.assign(next, change.set);
    for (const key of Object.keys(change.splice)) {
      const rows = next[key].slice();
      for (const op of change.splice[key]) rows.splice.apply(rows, [op[0], op[1]].concat(op[2]));
      next[key] = rows;
    }
    return next;
  }

  function render(data) {
    lastData = data;
    offsetMs = data.server_ms - Date.now();
    const counts = data.counts || {
      absent: data.absent.length, present: data.present.length, unscheduled: data.unscheduled.length,
    };
    fill("absent", data.absent, true, counts.absent);
    fill("present", data.present, true, counts.present);
    fill("unscheduled", data.unscheduled, false, counts.unscheduled);
    document.getElementById("unscheduled-section").hidden = counts.unscheduled === 0;
    document.body.dataset.version = String((Number(document.body.dataset.version) || 0) + 1);
  }

  function show() {
    const on = connectionLost || dataStale;
    document.body.classList.toggle("is-stale", on);
    const banner = document.getElementById("stale");
    banner.hidden = !on;
    if (on) {
      const p = parts(lastFresh + offsetMs);
      banner.textContent = (connectionLost ? texts.stale : texts.stale_data) + ". " +
        texts.stale_since + ": " + p.hour + ":" + p.minute + ":" + p.second;
    }
  }

  function setStale(on) {
    connectionLost = on;
    show();
  }

  function setDataStale(on) {
    if (!on) lastFresh = Date.now();
    dataStale = on;
    show();
  }

  function heard() {
    lastHeard = Date.now();
    if (connectionLost) setStale(false);
  }

  function connect() {
    if (source) source.close();
    const url = "/events" + (config.token ? "?token=" + encodeURIComponent(config.token) : "");
    source = new EventSource(url);
    source.addEventListener("board", function (e) {
      heard();
      version = e.lastEventId;
      render(JSON.parse(e.data));
      if (!dataStale) lastFresh = Date.now();
    });
    // What changed since the version shown (gateway/web/delta.py); any other base
    // means one was missed: start again, the new stream begins with the whole board.
    source.addEventListener("board-delta", function (e) {
      heard();
      const change = JSON.parse(e.data);
      if (!lastData || String(change.base) !== version) {
        version = null;
        connect();
        return;
      }
      version = e.lastEventId;
      render(applyDelta(lastData, change));
      if (!dataStale) lastFresh = Date.now();
    });
    source.addEventListener("tick", function (e) {
      const tick = JSON.parse(e.data);
      heard();
      offsetMs = tick.server_ms - Date.now();
      if (tick.ok === false && !dataStale) setDataStale(true);
      if (tick.ok !== false) setDataStale(false);
    });
    source.addEventListener("stale", function () { heard(); setDataStale(true); });
    source.addEventListener("fresh", function () { heard(); setDataStale(false); });
    // A new stream says "stale" first if the data is still old.
    source.onopen = function () { dataStale = false; heard(); };
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
