// Live lockdown figures: polls /api/lockdown every 2 s while the page is open and updates the
// counts and the release progress (text only: textContent, never HTML).
(function () {
  "use strict";
  var progress = document.getElementById("release-progress");
  if (!progress) { return; }
  function text(id, value) { var n = document.getElementById(id); if (n) { n.textContent = String(value); } }
  function tick() {
    fetch("/api/lockdown", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        text("level", s.level);
        text("held", s.held);
        text("queued", s.queued);
        text("node-held", s.node.held);  // a cluster's page shows this node's spool apart
        text("node-queued", s.node.queued);
        var r = s.release;
        progress.dataset.running = r.running ? "yes" : "no";
        progress.textContent = r.running ? "running: " + r.done + "/" + r.total + " (started by " + r.actor + ")"
          : (r.result || "none running");
        var button = document.getElementById("release-backlog");
        if (button) { button.disabled = r.running || !r.available; }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  setInterval(tick, 2000);
}());
