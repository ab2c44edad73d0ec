// Shared by the pages: formatting, the emotion colours, posting a form and reading its answer.
const pct = v => (v * 100).toFixed(1) + " %";
const COLOURS = {neutral: "#8c8c8c", calm: "#7fb3d5", happy: "#f1c40f", sad: "#2e5aa8", angry: "#c0392b",
  fearful: "#8e44ad", disgust: "#27ae60", surprised: "#e67e22", positive: "#27ae60", negative: "#c0392b",
  female: "#b0417a", male: "#2471a3"};
const colour = k => COLOURS[k] || "#555";
const PLOT_CONFIG = {displayModeBar: false, responsive: true};
const LAYOUT = {margin: {l: 70, r: 10, t: 10, b: 35}, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  font: {family: "system-ui, sans-serif", size: 13}};
function $(id) { return document.getElementById(id); }
function escapeHtml(s) { return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }
function clock(s) { const m = Math.floor(s / 60); return m + ":" + (s - 60 * m).toFixed(1).padStart(4, "0"); }
async function postForm(url, fd) {
  const r = await fetch(url, {method: "POST", body: fd});
  let j;
  try { j = await r.json(); } catch (e) { j = {error: "the server answered " + r.status + " without a readable message"}; }
  return [r.ok, j];
}
function probabilityBars(div, probs) {
  const names = Object.keys(probs).reverse(), vals = names.map(k => probs[k]);
  Plotly.react(div, [{type: "bar", orientation: "h", y: names, x: vals, marker: {color: names.map(colour)},
    text: vals.map(pct), textposition: "auto", hovertemplate: "%{y}: %{x:.1%}<extra></extra>"}],
    {...LAYOUT, xaxis: {range: [0, 1], tickformat: ".0%"}, margin: {...LAYOUT.margin, l: 80}}, PLOT_CONFIG);
}
