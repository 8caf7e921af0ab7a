/// The dashboard at `/`: one self-contained page (no external assets) that polls `/api/v1/stats` every second and
/// shows queries per second, latency percentiles, the cache hit ratio, memory, the upstreams, the TUN and fake-IP
/// counters, and a rolling two-minute plot of queries per second and median latency. With a token, it is taken
/// from the page address (`/#token=…`) or asked for, and kept in the tab's session storage.
enum DashboardPage {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>dnsgate</title>
        <style>
        :root { --fg: #1d2433; --muted: #6b7385; --line: #e3e6ee; --accent: #2f6fdf; --warn: #c2410c; --ok: #15803d; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: #f6f7fb; }
        header { display: flex; align-items: baseline; gap: 1rem; padding: 1rem 1.5rem; background: #fff;
                 border-bottom: 1px solid var(--line); }
        header h1 { font-size: 1.2rem; margin: 0; }
        header .meta { color: var(--muted); }
        #status { margin-left: auto; }
        main { padding: 1rem 1.5rem; display: grid; gap: 1rem; }
        .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 1rem; }
        .tile, section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; }
        .tile .label { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
        .tile .value { font-size: 1.6rem; font-variant-numeric: tabular-nums; }
        .plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
        canvas { width: 100%; height: 140px; }
        h2 { font-size: 1rem; margin: 0 0 .5rem; }
        table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
        th { color: var(--muted); font-weight: 500; }
        .up { color: var(--ok); } .down { color: var(--warn); } .unknown { color: var(--muted); }
        .counters { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: .2rem 1rem; }
        .counters div { display: flex; justify-content: space-between; border-bottom: 1px dotted var(--line); }
        [hidden] { display: none !important; }
        </style>
        </head>
        <body>
        <header><h1>dnsgate</h1><span class="meta" id="uptime">connecting…</span><span id="status"></span></header>
        <main>
          <div class="tiles">
            <div class="tile"><div class="label">Queries / s</div><div class="value" id="qps">–</div></div>
            <div class="tile"><div class="label">Queries</div><div class="value" id="queries">–</div></div>
            <div class="tile"><div class="label">Latency p50</div><div class="value" id="p50">–</div></div>
            <div class="tile"><div class="label">Latency p90</div><div class="value" id="p90">–</div></div>
            <div class="tile"><div class="label">Latency p99</div><div class="value" id="p99">–</div></div>
            <div class="tile"><div class="label">Cache hit ratio</div><div class="value" id="hit-ratio">–</div></div>
            <div class="tile"><div class="label">Memory</div><div class="value" id="memory">–</div></div>
          </div>
          <div class="plots">
            <section><h2>Queries per second</h2><canvas id="qps-plot" width="640" height="140"></canvas></section>
            <section><h2>Median latency (ms)</h2><canvas id="latency-plot" width="640" height="140"></canvas></section>
          </div>
          <section><h2>Upstreams</h2>
            <table><thead><tr><th>Upstream</th><th>State</th><th>Queries</th><th>Failures</th><th>In flight</th>
            <th>p50</th></tr></thead><tbody id="upstreams"></tbody></table></section>
          <section><h2>Answers</h2><div class="counters" id="answers"></div></section>
          <section id="cache-section" hidden><h2>Cache</h2><div class="counters" id="cache"></div></section>
          <section id="tun-section" hidden><h2>TUN</h2><div class="counters" id="tun"></div></section>
          <section id="fakeip-section" hidden><h2>Fake-IP</h2><div class="counters" id="fakeip"></div></section>
        </main>
        <script>
        "use strict";
        const history = [];
        const keep = 120;
        let previous = null;
        let token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("dnsgate-token");
        const $ = (id) => document.getElementById(id);
        const seconds = (s) => s == null ? "–" : s < 0.001 ? (s * 1e6).toFixed(0) + " µs"
          : s < 1 ? (s * 1e3).toFixed(2) + " ms" : s.toFixed(2) + " s";
        const bytes = (b) => b >= 1 << 30 ? (b / (1 << 30)).toFixed(2) + " GiB" : (b / (1 << 20)).toFixed(1) + " MiB";
        function counters(element, values) {
          element.replaceChildren(...Object.keys(values).sort().map((key) => {
            const row = document.createElement("div");
            const name = document.createElement("span");
            const value = document.createElement("span");
            name.textContent = key;
            value.textContent = values[key].toLocaleString("en");
            value.dataset.key = key;
            row.append(name, value);
            return row;
          }));
        }
        function plot(canvas, values, color) {
          const context = canvas.getContext("2d");
          const width = canvas.width, height = canvas.height;
          context.clearRect(0, 0, width, height);
          const max = Math.max(...values) || 1;
          context.strokeStyle = "#e3e6ee";
          context.fillStyle = "#6b7385";
          context.font = "11px system-ui";
          context.beginPath(); context.moveTo(0, 12); context.lineTo(width, 12); context.stroke();
          context.fillText(max.toPrecision(3), 4, 10);
          context.strokeStyle = color;
          context.lineWidth = 2;
          context.beginPath();
          values.forEach((value, index) => {
            const x = width - (values.length - 1 - index) * (width / (keep - 1));
            const y = height - 4 - (value / max) * (height - 20);
            index === 0 ? context.moveTo(x, y) : context.lineTo(x, y);
          });
          context.stroke();
        }
        function show(stats, now) {
          let qps = null;
          if (previous) {
            const elapsed = (now - previous.time) / 1000;
            qps = elapsed > 0 ? Math.max(0, stats.queries - previous.queries) / elapsed : 0;
          }
          previous = { time: now, queries: stats.queries };
          history.push({ qps: qps ?? 0, p50: (stats.latency.p50 ?? 0) * 1000 });
          if (history.length > keep) history.shift();
          $("uptime").textContent = "up " + Math.floor(stats.uptimeSeconds) + " s";
          $("qps").textContent = qps == null ? "–" : qps.toFixed(1);
          $("queries").textContent = stats.queries.toLocaleString("en");
          $("queries").dataset.value = stats.queries;
          $("p50").textContent = seconds(stats.latency.p50);
          $("p90").textContent = seconds(stats.latency.p90);
          $("p99").textContent = seconds(stats.latency.p99);
          $("hit-ratio").textContent = stats.cacheHitRatio == null ? "–" : (stats.cacheHitRatio * 100).toFixed(1) + " %";
          $("memory").textContent = bytes(stats.process.residentBytes);
          $("upstreams").replaceChildren(...stats.upstreams.map((upstream) => {
            const row = document.createElement("tr");
            const failures = Object.values(upstream.failures).reduce((a, b) => a + b, 0);
            for (const [text, className] of [[upstream.name], [upstream.state, upstream.state], [upstream.queries],
                [failures], [upstream.inFlight], [seconds(upstream.latency.p50)]]) {
              const cell = document.createElement("td");
              cell.textContent = typeof text === "number" ? text.toLocaleString("en") : text;
              if (className) cell.className = className;
              row.append(cell);
            }
            return row;
          }));
          counters($("answers"), Object.assign({}, stats.answersBySource,
            Object.fromEntries(Object.entries(stats.queriesByRcode).map(([k, v]) => ["rcode " + k, v])),
            Object.fromEntries(Object.entries(stats.queriesByTransport).map(([k, v]) => ["over " + k, v]))));
          for (const [section, values] of [["cache", stats.cache], ["tun", stats.tun], ["fakeip", stats.fakeIP]]) {
            $(section + "-section").hidden = !values;
            if (values) counters($(section), values);
          }
          plot($("qps-plot"), history.map((h) => h.qps), "#2f6fdf");
          plot($("latency-plot"), history.map((h) => h.p50), "#c2410c");
          document.body.dataset.sampled = String(now);
        }
        async function poll() {
          try {
            const response = await fetch("api/v1/stats", { headers: token ? { Authorization: "Bearer " + token } : {} });
            if (response.status === 401) {
              token = prompt("Admin token");
              if (token) sessionStorage.setItem("dnsgate-token", token);
              $("status").textContent = "token needed";
            } else {
              show(await response.json(), Date.now());
              $("status").textContent = "";
            }
          } catch (error) {
            $("status").textContent = "dnsgate unreachable";
          }
          setTimeout(poll, 1000);
        }
        poll();
        </script>
        </body>
        </html>
        """
}
