/* djag: the admin's live task graph (admin/djag/dag.html).
 *
 * Draws the graph embedded in <script id="djag-dag-data"> (Django's json_script) with the
 * vendored Cytoscape.js and its dagre layout, then asks data-state-url for the graph as it
 * stands every data-refresh-seconds (while the tab is visible): states recolour and
 * relabel in place; when tasks or dependencies came or went (another "structure"), the
 * graph is laid out again. Clicking a task shows its details and links in the side panel.
 * Node sizes are measured here (Cytoscape's `width: label` is deprecated).
 */
(function () {
  "use strict";

  var FONT_SIZE = 11;
  var FONT_FAMILY = "Helvetica, Arial, sans-serif";
  var LINE_HEIGHT = Math.round(FONT_SIZE * 1.35);
  var PADDING = 10;

  var measurer = document.createElement("canvas").getContext("2d");
  measurer.font = FONT_SIZE + "px " + FONT_FAMILY;

  function labelOf(node) {
    return [node.name].concat(node.lines).join("\n");
  }

  function sizeOf(label) {
    var lines = label.split("\n");
    var widest = 0;
    lines.forEach(function (line) {
      widest = Math.max(widest, measurer.measureText(line).width);
    });
    // A little more than measured: Cytoscape's canvas may render the font a bit wider.
    return {w: Math.ceil(widest * 1.08) + 2 * PADDING, h: lines.length * LINE_HEIGHT + 2 * PADDING};
  }

  function nodeData(node, colours) {
    var label = labelOf(node);
    var size = sizeOf(label);
    return {
      id: node.id,
      label: label,
      w: size.w,
      h: size.h,
      colour: colours[node.state] || colours.none,
      node: node
    };
  }

  function nodeClasses(node) {
    return [
      node.enabled ? "" : "disabled",
      node.waiting ? "waiting" : "",
      node.alerts && node.alerts.length ? "alerting" : ""
    ].join(" ").trim();
  }

  function elementsOf(data, colours) {
    var elements = [];
    data.nodes.forEach(function (node) {
      elements.push({group: "nodes", data: nodeData(node, colours), classes: nodeClasses(node)});
    });
    data.edges.forEach(function (edge) {
      elements.push({
        group: "edges",
        data: {id: edge.id, source: edge.source, target: edge.target},
        classes: (edge.future ? "future" : "ordinary") + (edge.require_success ? "" : " any-result")
      });
    });
    return elements;
  }

  var STYLE = [
    {
      selector: "node",
      style: {
        "shape": "round-rectangle",
        "background-color": "data(colour)",
        "label": "data(label)",
        "color": "#fff",
        "font-size": FONT_SIZE,
        "font-family": FONT_FAMILY,
        "line-height": 1.35,
        "text-wrap": "wrap",
        "text-max-width": 2000,
        "text-valign": "center",
        "text-halign": "center",
        "width": "data(w)",
        "height": "data(h)"
      }
    },
    {selector: "node.disabled", style: {"border-width": 2, "border-style": "dashed", "border-color": "#333", "opacity": 0.7}},
    {selector: "node.waiting", style: {"border-width": 4, "border-style": "solid", "border-color": "#f9a825"}},
    {selector: "node.alerting", style: {"border-width": 4, "border-style": "double", "border-color": "#c62828"}},
    {selector: "node:selected", style: {"overlay-color": "#000", "overlay-opacity": 0.15, "overlay-padding": 4}},
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
  ];

  function layoutOptions() {
    return window.cytoscapeDagre
      ? {name: "dagre", rankDir: "LR", nodeSep: 20, rankSep: 60, padding: 20}
      : {name: "breadthfirst", directed: true, padding: 20};
  }

  function element(tag, text, attributes) {
    var made = document.createElement(tag);
    if (text) {
      made.textContent = text;
    }
    Object.keys(attributes || {}).forEach(function (name) {
      made.setAttribute(name, attributes[name]);
    });
    return made;
  }

  function showDetail(panel, node, runsUrl) {
    panel.textContent = "";
    panel.appendChild(element("h2", node.name));
    var states = element("ul", "", {"class": "djag-dag-detail-lines"});
    node.lines.forEach(function (line) {
      states.appendChild(element("li", line));
    });
    panel.appendChild(states);
    if (node.why) {
      panel.appendChild(element("p", node.why, {"class": "djag-dag-detail-why"}));
    }
    var links = element("ul", "", {"class": "djag-dag-detail-links"});
    [
      [node.url, "Edit the task"],
      [runsUrl + "?periodic_task__id__exact=" + node.task_id, "Its runs"],
      ["?around=" + node.task_id, "Draw its neighbourhood"],
      ["?component=" + node.task_id, "Draw its group"]
    ].forEach(function (link) {
      var item = element("li");
      item.appendChild(element("a", link[1], {href: link[0]}));
      links.appendChild(item);
    });
    panel.appendChild(links);
  }

  function start() {
    var source = document.getElementById("djag-dag-data");
    var container = document.getElementById("djag-dag");
    if (!source || !container || typeof window.cytoscape !== "function") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var colours = data.colours;
    var panel = document.getElementById("djag-dag-detail");
    var live = document.getElementById("djag-dag-live");
    var counts = document.querySelector(".djag-dag-counts");
    var runsUrl = container.getAttribute("data-runs-url");
    var stateUrl = container.getAttribute("data-state-url");
    var every = 1000 * (parseFloat(container.getAttribute("data-refresh-seconds")) || 5);
    var structure = data.structure;
    var selected = null;
    if (window.cytoscapeDagre) {
      window.cytoscape.use(window.cytoscapeDagre);
    }

    var cy = window.cytoscape({
      container: container,
      elements: elementsOf(data, colours),
      style: STYLE,
      layout: layoutOptions()
    });

    cy.on("tap", "node", function (event) {
      selected = event.target.id();
      showDetail(panel, event.target.data("node"), runsUrl);
    });
    cy.on("mouseover", "node", function () { container.style.cursor = "pointer"; });
    cy.on("mouseout", "node", function () { container.style.cursor = ""; });

    function say(text, stopped) {
      live.textContent = text;
      live.classList.toggle("stopped", Boolean(stopped));
    }

    function apply(fresh) {
      if (fresh.structure !== structure) {
        structure = fresh.structure;
        cy.elements().remove();
        cy.add(elementsOf(fresh, colours));
        cy.layout(layoutOptions()).run();
      } else {
        fresh.nodes.forEach(function (node) {
          var drawn = cy.getElementById(node.id);
          drawn.data(nodeData(node, colours));
          drawn.classes(nodeClasses(node));
        });
      }
      var nodes = fresh.nodes.length;
      var edges = fresh.edges.length;
      counts.textContent = nodes + (nodes === 1 ? " task, " : " tasks, ") +
        edges + (edges === 1 ? " dependency" : " dependencies");
      var chosen = selected && cy.getElementById(selected);
      if (chosen && chosen.length) {
        showDetail(panel, chosen.data("node"), runsUrl);
      }
      container.setAttribute("data-updated", fresh.updated);
    }

    function poll() {
      if (document.hidden) {
        window.setTimeout(poll, every);
        return;
      }
      fetch(stateUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (!response.ok || type.indexOf("application/json") !== 0) {
            throw new Error(response.ok ? "not logged in any more" : "HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (fresh) {
          if (!fresh.drawn) {
            say("Live updates stopped: the selection now has " + fresh.total +
                " tasks, too many to draw. Reload the page to choose.", true);
            return;
          }
          apply(fresh);
          say("Live: updated at " + fresh.updated + ".");
          window.setTimeout(poll, every);
        })
        .catch(function (error) {
          say("Live updates paused (" + error.message + "); trying again.", true);
          window.setTimeout(poll, every * 2);
        });
    }
    window.setTimeout(poll, every);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
