// Draws every Plotly figure embedded with json_script: <script type="application/json"
// id="fig-x" data-chart-target="x">. No inline script, so CSP can keep script-src 'self'.
(function () {
  function draw() {
    if (typeof Plotly === "undefined") { return; }
    document.querySelectorAll("script[data-chart-target]").forEach(function (node) {
      var target = document.getElementById(node.dataset.chartTarget);
      if (!target) { return; }
      var fig = JSON.parse(node.textContent);
      Plotly.newPlot(target, fig.data || [], fig.layout || {}, Object.assign({ responsive: true, displaylogo: false }, fig.config || {}));
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
