// Draws the overview charts from the JSON data block of the page (no inline script: the CSP
// allows scripts from this origin only). Chart.js is served from /static, never a CDN.
(function () {
  "use strict";
  var node = document.getElementById("overview-data");
  if (!node || typeof Chart === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var colours = { deliver: "#17733a", tag: "#c9a400", disarm: "#2f80c1", quarantine: "#a15c00",
                  hold: "#5a3fa0", reject: "#8a1c1c", tempfail: "#6b7785" };
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, sans-serif";
  new Chart(document.getElementById("chart-hourly"), {
    type: "bar",
    data: { labels: data.hours, datasets: Object.keys(data.by_action).map(function (action) {
      return { label: action, data: data.by_action[action], backgroundColor: colours[action] || "#999" };
    }) },
    options: { responsive: true, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
  });
  function bars(id, pairs, colour) {
    new Chart(document.getElementById(id), {
      type: "bar",
      data: { labels: pairs.map(function (p) { return p[0]; }),
              datasets: [{ data: pairs.map(function (p) { return p[1]; }), backgroundColor: colour }] },
      options: { indexAxis: "y", responsive: true, plugins: { legend: { display: false } },
                 scales: { x: { beginAtZero: true } } }
    });
  }
  bars("chart-symbols", data.top_symbols, "#a15c00");
  bars("chart-recipients", data.top_recipients, "#1d5fd1");
  bars("chart-domains", data.top_sender_domains, "#5a3fa0");
}());
