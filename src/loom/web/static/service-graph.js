/* The interactive dependency graph (cytoscape): pan, zoom, click a service to open its
   page, hierarchical (dagre) or network (cose) layout, loops in red, services coloured
   by lifecycle, tier or health. The data is the API's graph JSON (the page's session
   cookie authenticates the fetch); the page lists the same edges as text for readers
   without JavaScript.

   Health: each node carries data(health), its health checks' overall status from the
   graph JSON (passing, degraded, failing; "unknown" without checks). When any node has
   a known status the graph starts coloured by health (see initialColour). */
(function () {
  "use strict";

  var box = document.getElementById("service-graph");
  if (!box || typeof window.cytoscape !== "function") {
    return;
  }

  var PALETTES = {
    lifecycle: {
      production: ["#1a7f37", "production"],
      experimental: ["#8250df", "experimental"],
      deprecated: ["#6e7781", "deprecated"]
    },
    tier: {
      "tier-1": ["#cf222e", "tier 1"],
      "tier-2": ["#bc4c00", "tier 2"],
      "tier-3": ["#0969da", "tier 3"]
    },
    health: {
      passing: ["#1a7f37", "passing"],
      degraded: ["#e0b400", "degraded"],
      failing: ["#cf222e", "failing"],
      unknown: ["#8c959f", "unknown"]
    }
  };
  var RESOURCE = "#d0d7de";
  var LOOP = "#cf222e";
  var MAX_FIT_ZOOM = 1.25;
  var LAYOUTS = {
    dagre: { name: "dagre", rankDir: "LR", nodeSep: 25, rankSep: 90, animate: false },
    cose: { name: "cose", animate: false, nodeRepulsion: 9000, idealEdgeLength: 90 }
  };

  var toolbar = document.getElementById("graph-toolbar");
  var status = document.getElementById("graph-status");
  var layoutSelect = document.getElementById("graph-layout");
  var colourSelect = document.getElementById("graph-colour");
  var legend = document.getElementById("graph-legend");
  var controls = document.getElementById("graph-controls");
  var cy = null;

  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function colourKey(mode, data) {
    if (mode === "tier") { return "tier-" + data.tier; }
    if (mode === "health") { return PALETTES.health[data.health] ? data.health : "unknown"; }
    return data.lifecycle;
  }

  function paint(mode) {
    var palette = PALETTES[mode] || PALETTES.lifecycle;
    cy.nodes("[slug]").forEach(function (node) {
      var entry = palette[colourKey(mode, node.data())];
      node.data("colour", entry ? entry[0] : PALETTES.health.unknown[0]);
    });
    box.dataset.colour = mode;
    drawLegend(palette);
  }

  /* Health first when there is any to show (that is what people look for); else the
     colouring the select shows. */
  function initialColour(graph) {
    var known = graph.nodes.some(function (n) { return n.health && n.health !== "unknown"; });
    if (known) { colourSelect.value = "health"; }
    return colourSelect.value;
  }

  function swatch(cls, label) {
    var item = document.createElement("li");
    var mark = document.createElement("span");
    mark.className = "swatch c-" + cls;
    item.appendChild(mark);
    item.appendChild(document.createTextNode(label));
    legend.appendChild(item);
  }

  function drawLegend(palette) {
    legend.textContent = "";
    Object.keys(palette).forEach(function (key) { swatch(key, palette[key][1]); });
    if (cy.nodes("[?resource]").length) { swatch("resource", "outside resource"); }
    if (cy.edges(".in-cycle").length) { swatch("loop", "call in a loop"); }
  }

  function arrange(name) {
    var options = LAYOUTS[name] || LAYOUTS.dagre;
    cy.layout(options).run();
    cy.fit(undefined, 30);
    if (cy.zoom() > MAX_FIT_ZOOM) {  // a handful of services: not drawn huge
      cy.zoom(MAX_FIT_ZOOM);
      cy.center();
    }
    box.dataset.layout = options.name;
  }

  function elements(graph, focus) {
    var looping = {};
    var inLoop = {};
    (graph.cycles || []).forEach(function (loop) {
      loop.forEach(function (slug, i) {
        looping[slug + "\u2192" + loop[(i + 1) % loop.length]] = true;
        inLoop[slug] = true;
      });
    });
    var items = [];
    graph.nodes.forEach(function (n) {
      items.push({
        group: "nodes",
        data: {
          id: "s:" + n.slug, slug: n.slug, label: n.name, tier: n.tier,
          lifecycle: n.lifecycle, team: n.team, health: n.health || "unknown",
          focus: n.slug === focus
        },
        classes: inLoop[n.slug] ? "in-cycle" : ""
      });
    });
    var resources = {};
    graph.edges.forEach(function (e) {
      var target = e.target ? "s:" + e.target : "r:" + e.target_resource;
      if (!e.target && !resources[target]) {
        resources[target] = true;
        items.push({ group: "nodes", data: { id: target, label: e.target_resource, resource: true } });
      }
      var loop = Boolean(e.target && looping[e.source + "\u2192" + e.target]);
      items.push({
        group: "edges",
        data: { id: "e:" + e.id, source: "s:" + e.source, target: target, kind: e.kind,
                criticality: e.criticality },
        classes: loop ? "in-cycle" : ""
      });
    });
    return items;
  }

  function style() {
    var text = window.getComputedStyle(box).color || "#1f2328";
    return [
      { selector: "node", style: {
        "label": "data(label)", "font-size": 11, "color": text, "text-valign": "bottom",
        "text-margin-y": 4, "width": 26, "height": 26, "background-color": "data(colour)",
        "border-width": 1, "border-color": "#57606a" } },
      { selector: "node[?resource]", style: {
        "shape": "round-rectangle", "background-color": RESOURCE, "width": 20, "height": 14 } },
      { selector: "node[?focus]", style: { "border-width": 4, "border-color": "#0969da" } },
      { selector: "node.in-cycle", style: { "border-width": 3, "border-color": LOOP } },
      { selector: "edge", style: {
        "curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.5,
        "line-color": "#8c959f", "target-arrow-color": "#8c959f", "arrow-scale": 0.9 } },
      { selector: "edge[criticality = 'high']", style: { "width": 3 } },
      { selector: "edge[kind = 'async']", style: { "line-style": "dashed" } },
      { selector: "edge[kind = 'data']", style: { "line-style": "dotted" } },
      { selector: "edge.in-cycle", style: { "line-color": LOOP, "target-arrow-color": LOOP } }
    ];
  }

  function dataUrl() {
    var url = box.dataset.graphUrl;
    if (!controls) { return url; }
    var query = new URLSearchParams(new FormData(controls));
    return url + "?" + query.toString();
  }

  function draw(graph) {
    if (!graph.nodes.length) {
      say("No service to draw.");
      return;
    }
    box.hidden = false;
    toolbar.hidden = false;
    cy = window.cytoscape({
      container: box,
      elements: elements(graph, box.dataset.focus || null),
      style: style(),
      wheelSensitivity: 0.3,
      minZoom: 0.1,
      maxZoom: 3
    });
    window.loomGraph = cy;
    cy.on("tap", "node[slug]", function (event) {
      window.location.assign(box.dataset.serviceBase + encodeURIComponent(event.target.data("slug")));
    });
    cy.on("mouseover", "node[slug]", function () { box.classList.add("pointing"); });
    cy.on("mouseout", "node", function () { box.classList.remove("pointing"); });
    paint(initialColour(graph));
    arrange(layoutSelect.value);
    box.dataset.nodes = String(cy.nodes("[slug]").length);
    box.dataset.ready = "true";
  }

  layoutSelect.addEventListener("change", function () { if (cy) { arrange(layoutSelect.value); } });
  colourSelect.addEventListener("change", function () { if (cy) { paint(colourSelect.value); } });
  document.getElementById("graph-fit").addEventListener("click", function () {
    if (cy) { cy.fit(undefined, 30); }
  });
  if (controls) {
    // Depth and direction: the page again (its text list follows), without a click.
    controls.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () { controls.submit(); });
    });
  }

  fetch(dataUrl(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(draw)
    .catch(function (error) {
      say("The graph could not be drawn (" + error.message + "): the list below has every dependency.");
    });
})();
