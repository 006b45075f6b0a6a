"""The HTML status page served at `/`: live numbers from `/status.json`, refreshed every second.

One static page, no template engine and no external assets (the server may sit on an air-gapped host).
Model names are inserted with textContent, never innerHTML, so a model name cannot inject markup.
"""

STATUS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>deepseek_r1 server</title>
<style>
 body{font:14px system-ui,sans-serif;margin:2em;color:#222} h1{font-size:20px}
 table{border-collapse:collapse;margin-top:1em} td,th{padding:4px 12px;border-bottom:1px solid #ddd;text-align:right}
 th:first-child,td:first-child{text-align:left} .READY{color:#080} .UNAVAILABLE,.UNLOADING{color:#b00}
 #err{color:#b00}
</style></head>
<body>
<h1>deepseek_r1 inference server <small id="ver"></small></h1>
<div>uptime <span id="up">-</span> s &middot; <a href="/metrics">Prometheus metrics</a>
 &middot; <a href="/status.json">JSON</a> <span id="err"></span></div>
<table><thead><tr><th>model</th><th>version</th><th>state</th><th>in flight</th><th>queued
 (critical / premium / standard)</th><th>requests ok</th><th>failed</th><th>req/s</th><th>batches</th>
 <th>avg batch</th><th>last batch</th><th>precisions</th><th>auto precision</th></tr></thead>
<tbody id="rows"></tbody></table>
<script>
let last = {};
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text;
  if (cls) td.className = cls; tr.appendChild(td); }
async function tick() {
  try {
    const r = await fetch("/status.json", {cache: "no-store"});
    if (!r.ok) throw new Error("HTTP " + r.status);
    const s = await r.json();
    document.getElementById("ver").textContent = s.version;
    document.getElementById("up").textContent = s.uptime_s;
    const body = document.getElementById("rows"); body.replaceChildren();
    const now = performance.now();
    for (const m of s.models) {
      const key = m.name + "/" + m.version, prev = last[key];
      const rate = prev ? ((m.successes - prev.n) * 1000 / (now - prev.t)).toFixed(1) : "-";
      last[key] = {n: m.successes, t: now};
      const q = m.queue || {};
      const tr = document.createElement("tr");
      cell(tr, m.name); cell(tr, m.version); cell(tr, m.state, m.state); cell(tr, m.inflight);
      cell(tr, [q.critical || 0, q.premium || 0, q.standard || 0].join(" / "));
      cell(tr, m.successes); cell(tr, m.failures); cell(tr, rate); cell(tr, m.batches);
      cell(tr, m.batches ? (m.samples / m.batches).toFixed(1) : "-"); cell(tr, m.last_batch_size);
      cell(tr, m.precisions.join(", ")); cell(tr, m.auto_precision_active ? "on" : "off");
      body.appendChild(tr);
    }
    document.getElementById("err").textContent = "";
  } catch (e) { document.getElementById("err").textContent = "(" + e.message + ")"; }
}
tick(); setInterval(tick, 1000);
</script></body></html>
"""
