#!/bin/sh
# Copy the portal's front-end files from node_modules (installed from the npm registry)
# into the package's static folder. Nothing here is committed; nothing loads from a CDN.
set -eu
dest="$1"
rm -rf "$dest"
mkdir -p "$dest/htmx" "$dest/pico" "$dest/swagger-ui" "$dest/cytoscape"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx/"
cp node_modules/@picocss/pico/css/pico.min.css "$dest/pico/"
for f in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png; do
  cp "node_modules/swagger-ui-dist/$f" "$dest/swagger-ui/"
done
# The service graph: cytoscape, and dagre with its cytoscape adapter for the
# hierarchical layout (loaded in this order: dagre, cytoscape, cytoscape-dagre).
cp node_modules/dagre/dist/dagre.min.js "$dest/cytoscape/"
cp node_modules/cytoscape/dist/cytoscape.min.js "$dest/cytoscape/"
cp node_modules/cytoscape-dagre/cytoscape-dagre.js "$dest/cytoscape/"
