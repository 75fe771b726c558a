// The base layers of every map: country outlines shipped with the product (npm's world-atlas,
// Natural Earth 1:50m), so maps work on a closed network; and, when the deployment sets
// PEACELAND_MAP_TILES_URL, its tile server on top, with the outlines as an alternative.

const OUTLINES_URL = "/static/vendor/world-atlas/countries-50m.json";
let outlines = null; // one download and parse for all maps

function countries() {
  if (outlines === null) {
    outlines = fetch(OUTLINES_URL).then((response) => {
      if (!response.ok) throw new Error(`${OUTLINES_URL}: HTTP ${response.status}`);
      return response.json();
    }).then((topology) => window.topojson.feature(topology, topology.objects.countries));
    outlines.catch(() => { outlines = null; });
  }
  return outlines;
}

/** A Leaflet map in `container` with the base layers; resolves once the outlines are drawn. */
export async function baseMap(container, config, view = { center: [46.6, 2.5], zoom: 6 }) {
  const L = window.L;
  const map = L.map(container, { worldCopyJump: true, minZoom: 2, maxZoom: 18, zoomSnap: 0.25 });
  map.setView(view.center, view.zoom);
  // Outlines in a pane of their own, under every overlay (Leaflet's overlay pane is at 400).
  map.createPane("outlines").style.zIndex = 350;
  const outline = L.geoJSON(null, {
    pane: "outlines",
    interactive: false,
    style: { color: "#7d8ea3", weight: 1, fillColor: "#f5f2ea", fillOpacity: 1 },
  });
  outline.addTo(map);
  if (config.map_tiles_url) {
    const tiles = L.tileLayer(config.map_tiles_url, { maxZoom: 19 });
    tiles.addTo(map);
    L.control.layers({ "Map tiles": tiles, "Country outlines (offline)": outline }, {}).addTo(map);
    map.removeLayer(outline);
  }
  // A map laid out before its box had its final size would draw only part of it.
  const resized = new ResizeObserver(() => map.invalidateSize({ animate: false }));
  resized.observe(container);
  map.on("unload", () => resized.disconnect());
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("Natural Earth");
  try {
    outline.addData(await countries());
  } catch (error) {
    console.warn("country outlines unavailable", error);
  }
  return map;
}
