// Long recordings: post the file, draw the timeline (colour = emotion, height = confidence),
// link every segment to the player (click or Enter: play it) and move a cursor while it plays.
let stopAt = null;
function drawTimeline(j) {
  const tl = $("timeline"), player = $("long-player"); tl.innerHTML = "";
  const seen = new Set();
  j.segments.forEach((s, i) => {
    const b = document.createElement("button");
    b.type = "button"; b.className = "seg"; b.dataset.start = s.start; b.dataset.end = s.end; b.dataset.index = i;
    b.setAttribute("role", "listitem");
    b.style.left = (100 * s.start / j.seconds) + "%";
    b.style.width = (100 * (s.end - s.start) / j.seconds) + "%";
    b.style.height = Math.max(15, 100 * s.emotion.confidence) + "%";
    b.style.background = colour(s.emotion.label);
    const label = `${clock(s.start)} to ${clock(s.end)}: ${s.emotion.label}, ${pct(s.emotion.confidence)}, ${s.sentiment.label}`;
    b.title = label; b.setAttribute("aria-label", label);
    b.addEventListener("click", () => {
      player.currentTime = s.start; stopAt = s.end;
      tl.querySelectorAll(".seg.playing").forEach(x => x.classList.remove("playing")); b.classList.add("playing");
      player.play().catch(() => {});  // a browser may refuse to play without a gesture; the seek still holds
    });
    tl.appendChild(b); seen.add(s.emotion.label);
  });
  const cursor = document.createElement("div"); cursor.className = "cursor"; cursor.id = "cursor"; tl.appendChild(cursor);
  $("legend").innerHTML = [...seen].map(k => `<span style="--c:${colour(k)}">${k}</span>`).join("");
  player.ontimeupdate = () => {
    cursor.style.left = (100 * player.currentTime / j.seconds) + "%";
    if (stopAt !== null && player.currentTime >= stopAt) { player.pause(); stopAt = null; }
  };
}
$("long-form").addEventListener("submit", async e => {
  e.preventDefault();
  const f = $("long-file").files[0];
  $("long-error").textContent = "";
  if (!f) { $("long-error").textContent = "Choose a recording first."; return; }
  $("long-status").textContent = "Analysing " + f.name + " (about 5 s per minute of speech) ...";
  const fd = new FormData(); fd.append("file", f, f.name); fd.append("same_speaker", $("one-voice").checked ? "true" : "false");
  const t0 = performance.now();
  const [ok, j] = await postForm("/api/segments", fd);
  $("long-status").textContent = ok ? `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s.` : "";
  if (!ok) { $("long-error").textContent = j.error; return; }
  $("long-player").src = URL.createObjectURL(f);
  $("long-mode").textContent = (j.mode === "speaker_normalised" ? "Calibrated to this voice: " : "Single-clip models: ") + j.why;
  $("long-overall").textContent = j.overall && j.overall.emotion
    ? `${j.overall.emotion.label} (${pct(j.overall.emotion.confidence)}), ${j.segments.length} segments, ${j.speech_seconds.toFixed(0)} s of speech in ${j.seconds.toFixed(0)} s`
    : "no speech found";
  drawTimeline(j);
  $("long-rows").innerHTML = j.segments.map(s => `<tr><td>${clock(s.start)}</td><td>${clock(s.end)}</td><td>${s.emotion.label}</td>` +
    `<td>${pct(s.emotion.confidence)}</td><td>${s.sentiment.label}</td></tr>`).join("");
  $("long-result").hidden = false;
  $("long-result").dataset.segments = j.segments.length;
});
