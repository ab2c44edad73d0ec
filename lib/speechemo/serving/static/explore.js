// Explore page: the training data's class balance, cross-tabs and durations (explore.json of the
// bundle), and a few example clips per emotion where the corpus's licence lets them be shared.
function grouped(div, counts) {
  const corpora = Object.keys(counts);
  const traces = corpora.map(c => ({type: "bar", name: c, x: Object.keys(counts[c]), y: Object.values(counts[c]),
    hovertemplate: c + " · %{x}: %{y} clips<extra></extra>"}));
  Plotly.newPlot(div, traces, {...LAYOUT, barmode: "group", showlegend: corpora.length > 1,
    legend: {orientation: "h"}, margin: {...LAYOUT.margin, l: 50}, yaxis: {title: {text: "clips"}}}, PLOT_CONFIG);
}
function heat(div, t) {
  Plotly.newPlot(div, [{type: "heatmap", z: t.values, x: t.cols, y: t.rows, colorscale: "Blues", reversescale: true, showscale: false,
    text: t.values, texttemplate: "%{text}", hovertemplate: "%{y} · %{x}: %{z} clips<extra></extra>"}],
    {...LAYOUT, margin: {...LAYOUT.margin, l: 80}}, PLOT_CONFIG);
}
(async () => {
  const r = await fetch("/api/explore");
  const d = await r.json();
  if (!r.ok) { $("explore-summary").textContent = d.error; return; }
  const parts = Object.entries(d.per_corpus).map(([c, v]) => `${c}: ${v.clips} clips, ${v.speakers} speakers`);
  $("explore-summary").textContent = `${d.clips} clips from ${d.speakers} speakers (${parts.join("; ")}).`;
  for (const k of ["emotion", "intensity", "gender", "sentiment"]) grouped("chart-" + k, d.counts[k]);
  heat("chart-sentiment-gender", d.crosstabs["sentiment x gender"]);
  heat("chart-sentiment-intensity", d.crosstabs["sentiment x intensity"]);
  const e = d.durations.edges, mids = e.slice(0, -1).map((v, i) => (v + e[i + 1]) / 2);
  Plotly.newPlot("chart-durations", Object.entries(d.durations.counts).map(([c, n]) =>
    ({type: "bar", name: c, x: mids, y: n, opacity: 0.75})), {...LAYOUT, barmode: "overlay", bargap: 0,
    margin: {...LAYOUT.margin, l: 50}, xaxis: {title: {text: "seconds"}}, yaxis: {title: {text: "clips"}}}, PLOT_CONFIG);
  $("examples").innerHTML = d.examples.map(x => `<figure><figcaption>${x.emotion} · ${x.gender}</figcaption>` +
    `<audio controls preload="none" src="/examples/${x.file.split("/").pop()}" aria-label="${x.emotion} example, ${x.gender} voice"></audio>` +
    `<small>${escapeHtml(x.source)} · ${escapeHtml(x.title)} · licence ${escapeHtml(x.licence)}</small></figure>`).join("");
  $("examples-note").textContent = (d.examples.length ? "Played from the bundle; each clip names its corpus and licence. " : "No example clips in this bundle. ") +
    (d.examples_omitted.length ? "Omitted (licence does not allow sharing): " + d.examples_omitted.join(", ") + "." : "");
  document.body.dataset.charts = document.querySelectorAll(".js-plotly-plot").length;
})();
