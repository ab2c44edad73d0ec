// Predict page: one clip (upload or microphone) -> what the model heard, the bars, the answer;
// several clips of one voice -> calibrated to that voice.
function showHeard(h) {
  $("heard-seconds").textContent = h.seconds.toFixed(2);
  const n = h.envelope.max.length, t = [...Array(n).keys()].map(i => i * h.seconds / n);
  Plotly.react("waveform", [
    {x: t, y: h.envelope.max, type: "scatter", mode: "lines", line: {width: 1, color: "#2459a8"}, hoverinfo: "skip"},
    {x: t, y: h.envelope.min, type: "scatter", mode: "lines", fill: "tonexty", line: {width: 1, color: "#2459a8"}, hoverinfo: "skip"}],
    {...LAYOUT, showlegend: false, margin: {...LAYOUT.margin, l: 45}, xaxis: {title: {text: "seconds"}}, yaxis: {range: [-1, 1]}}, PLOT_CONFIG);
  const cols = h.mel.values[0].length;
  Plotly.react("spectrogram", [{z: h.mel.values, x: [...Array(cols).keys()].map(i => i * h.mel.seconds_per_column),
    type: "heatmap", colorscale: "Viridis", showscale: false, hovertemplate: "%{x:.2f} s, band %{y}<extra></extra>"}],
    {...LAYOUT, margin: {...LAYOUT.margin, l: 45}, xaxis: {title: {text: "seconds"}}, yaxis: {title: {text: "mel band"}}}, PLOT_CONFIG);
}
async function send(blob, name) {
  $("status").textContent = "Analysing " + name + " ...";
  $("error").textContent = "";
  const fd = new FormData(); fd.append("file", blob, name); fd.append("view", "true");
  const [ok, j] = await postForm("/api/predict", fd);
  $("status").textContent = "";
  if (!ok) { $("error").textContent = j.error; return; }
  for (const t of ["emotion", "sentiment", "gender"]) {
    if (!j[t]) continue;
    $(t).textContent = j[t].label;
    $(t + "-conf").textContent = pct(j[t].confidence);
  }
  $("player").src = URL.createObjectURL(blob);
  $("result").hidden = false;
  for (const t of ["emotion", "sentiment", "gender"]) if (j[t]) probabilityBars("bars-" + t, j[t].probabilities);
  showHeard(j.heard);
  $("result").dataset.done = "1";
}
$("form").addEventListener("submit", e => {
  e.preventDefault();
  const f = $("file").files[0];
  if (!f) { $("error").textContent = "Choose a file first."; return; }
  send(f, f.name);
});
function wav(samples, rate) {
  const buf = new ArrayBuffer(44 + samples.length * 2), v = new DataView(buf);
  const w = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  w(0, "RIFF"); v.setUint32(4, 36 + samples.length * 2, true); w(8, "WAVE"); w(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true);
  v.setUint16(34, 16, true); w(36, "data"); v.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => v.setInt16(44 + i * 2, Math.max(-1, Math.min(1, s)) * 0x7fff, true));
  return new Blob([v], {type: "audio/wav"});
}
async function record4s() {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const ctx = new AudioContext(), src = ctx.createMediaStreamSource(stream);
  const proc = ctx.createScriptProcessor(4096, 1, 1), chunks = [];
  proc.onaudioprocess = e => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
  src.connect(proc); proc.connect(ctx.destination);
  await new Promise(r => setTimeout(r, 4000));
  proc.disconnect(); stream.getTracks().forEach(t => t.stop());
  const all = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0; for (const c of chunks) { all.set(c, o); o += c.length; }
  return wav(all, ctx.sampleRate);
}
const recorded = [];
const calibFiles = () => [...$("calib-files").files].map(f => [f, f.name]).concat(recorded);
const showCount = () => { $("calib-count").textContent = calibFiles().length + " clip(s) ready."; };
$("calib-files").addEventListener("change", showCount);
$("calib-record").addEventListener("click", async () => {
  try {
    $("calib-count").textContent = "Recording 4 s ...";
    recorded.push([await record4s(), "recording-" + (recorded.length + 1) + ".wav"]); showCount();
  } catch (err) { $("calib-error").textContent = "Microphone: " + err.message; }
});
$("calib-submit").addEventListener("click", async () => {
  $("calib-error").textContent = "";
  const files = calibFiles();
  if (!files.length) { $("calib-error").textContent = "Add clips first."; return; }
  const fd = new FormData(); fd.append("same_speaker", "true");
  for (const [blob, name] of files) fd.append("file", blob, name);
  $("calib-count").textContent = "Analysing " + files.length + " clips ...";
  const [ok, j] = await postForm("/api/predict", fd); showCount();
  if (!ok) { $("calib-error").textContent = j.error; return; }
  $("calib-mode").textContent = (j.mode === "speaker_normalised" ? "Calibrated to this voice: " : "Not calibrated: ") + j.why;
  $("calib-overall").textContent = j.overall ? j.overall.emotion.label + " (" + pct(j.overall.emotion.confidence) + ")" : "-";
  const rows = $("calib-rows"); rows.innerHTML = "";
  for (const c of j.clips) {
    rows.insertAdjacentHTML("beforeend", c.error
      ? `<tr class="bad"><td>${escapeHtml(c.file)}</td><td colspan="3">${escapeHtml(c.error)}</td></tr>`
      : `<tr><td>${escapeHtml(c.file)}</td><td>${c.emotion.label}</td><td>${pct(c.emotion.confidence)}</td><td>${c.sentiment.label}</td></tr>`);
  }
  $("calib-result").hidden = false;
  $("calib-result").dataset.mode = j.mode;
});
$("record").addEventListener("click", async () => {
  try {
    $("status").textContent = "Recording 4 s ...";
    send(await record4s(), "recording.wav");
  } catch (err) { $("error").textContent = "Microphone: " + err.message; }
});
