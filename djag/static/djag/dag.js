/* djag: draws the admin's task graph (admin/djag/dag.html).
 *
 * The data comes from the page's <script type="application/json" id="djag-dag-data">
 * (Django's json_script); the layout is dagre's, through the vendored
 * cytoscape-dagre extension. No network access is needed.
 */
(function () {
  "use strict";

  function start() {
    var source = document.getElementById("djag-dag-data");
    var container = document.getElementById("djag-dag");
    if (!source || !container || typeof window.cytoscape !== "function") {
      return;
    }
    var data = JSON.parse(source.textContent);
    if (window.cytoscapeDagre) {
      window.cytoscape.use(window.cytoscapeDagre);
    }

    var elements = [];
    data.nodes.forEach(function (node) {
      elements.push({
        group: "nodes",
        data: {
          id: node.id,
          label: node.name + "\n" + node.next_fire,
          url: node.url,
          colour: data.colours[node.state] || data.colours.none
        },
        classes: node.enabled ? "" : "disabled"
      });
    });
    data.edges.forEach(function (edge) {
      elements.push({
        group: "edges",
        data: {id: edge.id, source: edge.source, target: edge.target},
        classes: (edge.future ? "future" : "ordinary") + (edge.require_success ? "" : " any-result")
      });
    });

    var cy = window.cytoscape({
      container: container,
      elements: elements,
      wheelSensitivity: 0.2,
      style: [
        {
          selector: "node",
          style: {
            "shape": "round-rectangle",
            "background-color": "data(colour)",
            "label": "data(label)",
            "color": "#fff",
            "font-size": 11,
            "text-wrap": "wrap",
            "text-max-width": 220,
            "text-valign": "center",
            "text-halign": "center",
            "width": "label",
            "height": "label",
            "padding": 8
          }
        },
        {selector: "node.disabled", style: {"border-width": 2, "border-style": "dashed", "border-color": "#333", "opacity": 0.7}},
        {
          selector: "edge",
          style: {
            "width": 2,
            "line-color": "#555",
            "target-arrow-color": "#555",
            "target-arrow-shape": "triangle",
            "curve-style": "bezier"
          }
        },
        {selector: "edge.future", style: {"line-style": "dashed", "line-color": "#8e24aa", "target-arrow-color": "#8e24aa"}},
        {selector: "edge.any-result", style: {"target-arrow-shape": "triangle-backcurve"}}
      ],
      layout: window.cytoscapeDagre
        ? {name: "dagre", rankDir: "LR", nodeSep: 20, rankSep: 60, padding: 20}
        : {name: "breadthfirst", directed: true, padding: 20}
    });

    cy.on("tap", "node", function (event) {
      var url = event.target.data("url");
      if (url) {
        window.location.href = url;
      }
    });
    cy.on("mouseover", "node", function () { container.style.cursor = "pointer"; });
    cy.on("mouseout", "node", function () { container.style.cursor = ""; });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
