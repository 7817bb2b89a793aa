// The redaction studio's behaviour (a file: the CSP allows no inline script).
// It holds the custodian's choices (people kept, boxes, blackout and mute ranges) in this
// tab's sessionStorage until they are rendered, plays the original and a copy in sync, draws
// boxes on the paused original, draws the timeline, and sends the choices to the server,
// which checks them whole (a refusal comes back here with its code; nothing is queued).
// Box coordinates are pixels of the displayed, upright frame, as the regions file uses.
"use strict";
(() => {
  const root = document.getElementById("studio");
  if (!root) return;
  const $ = (sel) => root.querySelector(sel);
  const E = root.dataset.evidence;
  const FPS = parseFloat(root.dataset.fps) || 30;
  const W = parseInt(root.dataset.width, 10) || 0;
  const H = parseInt(root.dataset.height, 10) || 0;
  let duration = parseFloat(root.dataset.duration) || 0;
  const copy = root.dataset.copy || "";
  const KEY = "bwc-studio:" + E;
  const orig = document.getElementById("original");
  const red = document.getElementById("redacted");
  const overlay = document.getElementById("overlay");
  const ctx = overlay.getContext("2d");
  const errorBox = document.getElementById("studio-error");

  // ---- the choices ------------------------------------------------------------------
  // speech: {id: the speech search answered, answers: {suggestion id: {action, before, after}}}
  const blank = () => ({ keep: {}, boxes: [], blackout: [], mute: [], speech: { id: null, answers: {} } });
  let state = blank();
  try { state = Object.assign(blank(), JSON.parse(sessionStorage.getItem(KEY) || "{}")); }
  catch (e) { state = blank(); }
  const save = () => sessionStorage.setItem(KEY, JSON.stringify(state));
  const round1 = (v) => Math.round(v * 10) / 10;
  // rounded to the tenth before it is split, as timeutil.video_clock: 59.96 s is 1:00.0
  const clock = (s) => { s = round1(Math.max(0, s || 0)); const m = Math.floor(s / 60);
    const r = (s - m * 60).toFixed(1); return m + ":" + (r.length < 4 ? "0" + r : r); };
  const KIND = { screen: "a screen", name_tag: "a name tag", plate: "a licence plate",
                 id: "an ID card", other: "something else" };

  // a refusal is shown just above what was refused (`near`), where the eye already is
  function showError(err, near) {
    if (!err) { errorBox.hidden = true; errorBox.textContent = ""; return; }
    if (near) near.before(errorBox);
    errorBox.hidden = false;
    errorBox.textContent = "";
    const head = document.createElement("strong");
    head.textContent = "Not done: ";
    errorBox.append(head, document.createTextNode(err.message || String(err)));
    const problems = (err.details && err.details.problems) || [];
    if (problems.length) {
      const ul = document.createElement("ul");
      for (const p of problems) {
        const li = document.createElement("li");
        li.textContent = typeof p === "string" ? p : (p.at ? p.at + ": " : "") + (p.problem || JSON.stringify(p));
        ul.append(li);
      }
      errorBox.append(ul);
    }
    if (err.code) {
      const code = document.createElement("span");
      code.className = "mono muted";
      code.textContent = " (" + err.code + ")";
      errorBox.append(code);
    }
    errorBox.scrollIntoView({ block: "center" });
  }

  // ---- people -----------------------------------------------------------------------
  for (const card of root.querySelectorAll("div.person")) {
    const id = card.dataset.person;
    const box = card.querySelector("input.keep");
    const why = card.querySelector(".keep-reason");
    const label = card.querySelector("label.reason");
    const show = () => {
      const kept = id in state.keep;
      box.checked = kept;
      card.classList.toggle("kept", kept);
      label.hidden = !kept;
      why.value = kept ? state.keep[id] : "";
    };
    box.addEventListener("change", () => {
      if (box.checked) state.keep[id] = why.value || ""; else delete state.keep[id];
      save(); show(); refresh();
      if (box.checked) why.focus();
    });
    why.addEventListener("input", () => { state.keep[id] = why.value; save(); listChanges(); });
    show();
  }
  // a person the count no longer lists (the page was reloaded after a new count)
  const listed = new Set([...root.querySelectorAll("div.person")].map((c) => c.dataset.person));
  for (const id of Object.keys(state.keep)) if (!listed.has(id)) delete state.keep[id];

  // ---- players in sync ----------------------------------------------------------------
  // each player says on itself when it can play and where it last stopped (for assistive
  // tools and the browser tests, which may not run script on this page: the CSP)
  for (const v of [orig, red]) {
    if (!v) continue;
    const ready = () => { v.dataset.state = "ready"; };
    if (v.readyState >= 3) ready(); else v.addEventListener("canplay", ready, { once: true });
    v.addEventListener("seeked", () => { v.dataset.at = v.currentTime.toFixed(2); });
  }
  const playBtn = document.getElementById("play");
  function sync(force) {
    if (!red || !red.readyState) return;
    if (force || Math.abs(red.currentTime - orig.currentTime) > 0.15) red.currentTime = orig.currentTime;
  }
  function go(t) {
    orig.pause();
    orig.currentTime = Math.max(0, Math.min(duration || t, t));
    document.querySelector(".players").scrollIntoView({ block: "start", behavior: "smooth" });
  }
  orig.addEventListener("loadedmetadata", () => {
    if (!duration && isFinite(orig.duration)) duration = orig.duration;
    fit(); draw(); drawTimeline();
  });
  orig.addEventListener("play", () => { playBtn.textContent = "Pause"; if (red) red.play().catch(() => {}); tick(); });
  orig.addEventListener("pause", () => { playBtn.textContent = "Play"; if (red) { red.pause(); sync(true); } draw(); });
  orig.addEventListener("seeked", () => { sync(true); draw(); drawTimeline(); });
  orig.addEventListener("ratechange", () => { if (red) red.playbackRate = orig.playbackRate; });
  orig.addEventListener("ended", () => { if (red) red.pause(); });
  playBtn.addEventListener("click", () => { if (orig.paused) orig.play(); else orig.pause(); });
  document.getElementById("back1").addEventListener("click", () => go(orig.currentTime - 1));
  document.getElementById("fwd1").addEventListener("click", () => go(orig.currentTime + 1));
  function tick() {
    draw(); drawTimeline(); sync(false);
    if (!orig.paused && !orig.ended) requestAnimationFrame(tick);
  }
  root.addEventListener("click", (ev) => {
    const el = ev.target.closest("[data-go]");
    if (!el) return;
    ev.preventDefault();
    go(parseFloat(el.dataset.go));
  });
  const pick = document.getElementById("copy-pick");
  if (pick) pick.addEventListener("change", () => {
    location.href = "/console/evidence/" + E + "/studio?copy=" + encodeURIComponent(pick.value);
  });

  // ---- the overlay: boxes on the original ------------------------------------------------
  function fit() {
    overlay.width = orig.clientWidth;
    overlay.height = orig.clientHeight;
  }
  window.addEventListener("resize", () => { fit(); draw(); drawTimeline(); placeSpeech(); });
  function frameRect() {
    const vw = orig.videoWidth || W || 16, vh = orig.videoHeight || H || 9;
    const s = Math.min(overlay.width / vw, overlay.height / vh);
    return { x: (overlay.width - vw * s) / 2, y: (overlay.height - vh * s) / 2, s, vw, vh };
  }
  const toCanvas = (r, b) => [r.x + b[0] * r.s, r.y + b[1] * r.s, b[2] * r.s, b[3] * r.s];
  function boxAt(region, t) {
    const p = region.path;
    if (!p || !p.length) return region.box;
    let lo = 0, hi = p.length - 1;
    if (t <= p[0][0]) return p[0].slice(1);
    if (t >= p[hi][0]) return p[hi].slice(1);
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (p[mid][0] <= t) lo = mid; else hi = mid; }
    const a = p[lo], b = p[hi], u = (t - a[0]) / ((b[0] - a[0]) || 1);
    return [1, 2, 3, 4].map((k) => a[k] + (b[k] - a[k]) * u);
  }
  let outline = null; // {frames: [[t, blurred, kept], ...]} of the copy
  let drawing = null; // {x0, y0, x1, y1} in frame pixels while dragging
  let pending = null; // the box drawn, waiting for the form
  function draw() {
    const t = orig.currentTime;
    document.getElementById("clock").textContent = clock(t) + " / " + clock(duration);
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const r = frameRect();
    // while drawing, the paused frame itself is painted under the box: what is boxed is
    // exactly what was shown
    if (overlay.classList.contains("drawing") && orig.readyState >= 2)
      ctx.drawImage(orig, r.x, r.y, r.vw * r.s, r.vh * r.s);
    if (outline && outline.frames.length) {
      const f = outline.frames;
      let lo = 0, hi = f.length - 1;
      while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (f[mid][0] <= t) lo = mid; else hi = mid; }
      const at = Math.abs(f[hi][0] - t) < Math.abs(f[lo][0] - t) ? f[hi] : f[lo];
      if (Math.abs(at[0] - t) < 1.5 / FPS) {
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#ef4444";
        for (const b of at[1]) ctx.strokeRect(...toCanvas(r, [b[0], b[1], b[2] - b[0], b[3] - b[1]]));
        ctx.strokeStyle = "#22c55e";
        for (const b of at[2]) ctx.strokeRect(...toCanvas(r, [b[0], b[1], b[2] - b[0], b[3] - b[1]]));
      }
    }
    ctx.lineWidth = 3;
    state.boxes.forEach((b, i) => {
      if (t < b.start - 0.001 || t > b.end + 0.001) return;
      const c = toCanvas(r, boxAt(b, t));
      ctx.setLineDash(b.follow && !b.path ? [6, 4] : []);
      ctx.strokeStyle = "#facc15";
      ctx.strokeRect(...c);
      ctx.fillStyle = "rgba(250, 204, 21, .25)";
      ctx.fillRect(...c);
      ctx.setLineDash([]);
      ctx.fillStyle = "#111";
      ctx.font = "bold 13px system-ui";
      ctx.fillText(String(i + 1), c[0] + 4, c[1] + 15);
    });
    const live = drawing || pending;
    if (live) {
      ctx.strokeStyle = "#38bdf8";
      ctx.setLineDash([5, 3]);
      const b = norm(live);
      ctx.strokeRect(...toCanvas(r, b));
      ctx.setLineDash([]);
    }
  }
  function norm(d) {
    const x0 = Math.max(0, Math.min(d.x0, d.x1)), y0 = Math.max(0, Math.min(d.y0, d.y1));
    const x1 = Math.min(W || 1e9, Math.max(d.x0, d.x1)), y1 = Math.min(H || 1e9, Math.max(d.y0, d.y1));
    return [round1(x0), round1(y0), round1(x1 - x0), round1(y1 - y0)];
  }
  const outlineBox = document.getElementById("outline");
  if (outlineBox) outlineBox.addEventListener("change", async () => {
    if (outlineBox.checked && !outline) {
      const r = await fetch("/console/evidence/" + E + "/studio/boxes?copy=" + encodeURIComponent(copy),
                            { credentials: "same-origin" });
      const body = await r.json();
      if (!r.ok) { showError(body.error || body, document.querySelector(".players")); outlineBox.checked = false; return; }
      outline = body;
    }
    if (!outlineBox.checked) outline = null;
    draw();
  });

  // ---- drawing a box -----------------------------------------------------------------
  const drawBtn = document.getElementById("draw");
  const drawHelp = document.getElementById("draw-help");
  let correcting = null; // index of a followed box being corrected at this frame
  function startDrawing(forBox) {
    orig.pause();
    correcting = forBox;
    overlay.classList.add("drawing");
    draw();
    drawHelp.hidden = false;
    drawHelp.firstChild.textContent = forBox === null
      ? "The video is paused. Drag a box over what must be hidden on the left picture. "
      : "Drag box " + (forBox + 1) + " to where it should be on this frame; it is followed again from here. ";
    overlay.scrollIntoView({ block: "center" });
  }
  function stopDrawing() {
    overlay.classList.remove("drawing");
    drawHelp.hidden = true;
    drawing = null;
    draw();
  }
  drawBtn.addEventListener("click", () => startDrawing(null));
  document.getElementById("draw-cancel").addEventListener("click", () => { correcting = null; stopDrawing(); });
  const toFrame = (ev) => {
    const rect = overlay.getBoundingClientRect(), r = frameRect();
    return [(ev.clientX - rect.left - r.x) / r.s, (ev.clientY - rect.top - r.y) / r.s];
  };
  overlay.addEventListener("pointerdown", (ev) => {
    if (!overlay.classList.contains("drawing")) return;
    overlay.setPointerCapture(ev.pointerId);
    const [x, y] = toFrame(ev);
    drawing = { x0: x, y0: y, x1: x, y1: y };
  });
  overlay.addEventListener("pointermove", (ev) => {
    if (!drawing) return;
    [drawing.x1, drawing.y1] = toFrame(ev);
    draw();
  });
  overlay.addEventListener("pointerup", () => {
    if (!drawing) return;
    const b = norm(drawing);
    if (b[2] < 4 || b[3] < 4) { drawing = null; draw(); return; }
    const t = round1(orig.currentTime);
    const target = correcting;
    stopDrawing();
    if (target !== null && state.boxes[target]) {
      const region = state.boxes[target];
      region.keyframes = (region.keyframes || []).filter((k) => Math.abs(k.t - t) > 0.05);
      region.keyframes.push({ t, box: b });
      region.path = null;
      correcting = null;
      save(); refresh(); followBox(region);
      return;
    }
    pending = { x0: b[0], y0: b[1], x1: b[0] + b[2], y1: b[1] + b[3], t };
    openBoxForm(b, t);
  });

  const boxForm = document.getElementById("box-form");
  function openBoxForm(b, t) {
    boxForm.hidden = false;
    document.getElementById("box-size").textContent =
      b[2] + " x " + b[3] + " px at " + b[0] + ", " + b[1] + ", drawn at " + clock(t);
    // by default a few seconds around the frame, within its scene (a box followed across a
    // cut to another scene would cover the wrong thing)
    const cuts = facts.cuts || [];
    const sceneStart = Math.max(0, ...cuts.filter((c) => c <= t + 0.001));
    const sceneEnd = Math.min(duration || t + 5, ...cuts.filter((c) => c > t + 0.001).map((c) => c - 1 / FPS));
    document.getElementById("box-start").value = round1(Math.max(sceneStart, t - 2));
    document.getElementById("box-end").value = Math.floor(Math.min(sceneEnd, t + 5) * 10) / 10;
    document.getElementById("box-reason").value = "";
    draw();
    document.getElementById("box-kind").focus();
  }
  document.getElementById("box-cancel").addEventListener("click", () => {
    boxForm.hidden = true; pending = null; draw();
  });
  boxForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!pending) return;
    const start = parseFloat(document.getElementById("box-start").value);
    const end = parseFloat(document.getElementById("box-end").value);
    if (!(end > start) || start < 0 || (duration && end > duration + 0.05)) {
      showError({ message: "the box's time must run forwards, within the video (0 to " + clock(duration) + ")" }, boxForm);
      return;
    }
    const at = Math.min(end, Math.max(start, pending.t));
    const region = {
      start, end, at, box: norm(pending), kind: document.getElementById("box-kind").value,
      mode: document.getElementById("box-mode").value,
      follow: document.getElementById("box-follow").checked,
      reason: document.getElementById("box-reason").value.trim(), keyframes: [], path: null,
    };
    showError(null);
    state.boxes.push(region);
    pending = null;
    boxForm.hidden = true;
    save(); refresh();
    if (region.follow) followBox(region);
  });

  // ---- following a box: the server follows it; the path is shown and sent with the copy ----
  async function followBox(region) {
    region.following = true;
    listChanges();
    const anchors = [{ t: region.at, box: region.box }, ...(region.keyframes || [])];
    const form = new URLSearchParams({ csrf: root.dataset.csrf, start: region.start,
                                       end: region.end, anchors: JSON.stringify(anchors) });
    try {
      const r = await fetch("/console/evidence/" + E + "/studio/follow", {
        method: "POST", body: form, credentials: "same-origin" });
      const body = await r.json();
      if (!r.ok) { showError(body.error || body, document.getElementById("changes")); region.failed = true; }
      else { region.path = body.path; region.lost = body.lost.length; region.failed = false; }
    } catch (e) { showError({ message: "could not follow the box: " + e }, document.getElementById("changes")); region.failed = true; }
    region.following = false;
    save(); refresh();
  }

  // ---- ranges ------------------------------------------------------------------------
  document.getElementById("range-now").addEventListener("click", () => {
    document.getElementById("range-start").value = round1(orig.currentTime);
    document.getElementById("range-end").value = round1(Math.min(duration || orig.currentTime + 2, orig.currentTime + 2));
  });
  document.getElementById("range-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const what = document.getElementById("range-what").value;
    const start = parseFloat(document.getElementById("range-start").value);
    const end = parseFloat(document.getElementById("range-end").value);
    if (!(end > start) || start < 0 || (duration && end > duration + 0.05)) {
      showError({ message: "the stretch must run forwards, within the video (0 to " + clock(duration) + ")" },
                document.getElementById("range-form"));
      return;
    }
    showError(null);
    state[what].push({ start, end, reason: document.getElementById("range-reason").value.trim() });
    document.getElementById("range-reason").value = "";
    save(); refresh();
  });

  // ---- the list of changes -------------------------------------------------------------
  function cell(row, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    row.append(td);
    return td;
  }
  function button(td, text, fn, cls) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = text; b.className = cls || "link";
    b.addEventListener("click", fn);
    td.append(b, document.createTextNode(" "));
  }
  function listChanges() {
    const body = document.querySelector("#changes tbody");
    body.textContent = "";
    const rows = [];
    for (const [id, why] of Object.entries(state.keep)) {
      const card = root.querySelector('.person[data-person="' + id + '"]');
      const tr = document.createElement("tr");
      cell(tr, "Person " + (card ? card.dataset.number : id) + " kept visible");
      cell(tr, "wherever the count followed them");
      cell(tr, "not blurred");
      cell(tr, why || "no reason given yet", why ? "" : "muted");
      const td = cell(tr, "");
      button(td, "Blur them again", () => {
        const input = card && card.querySelector("input.keep");
        if (input) { input.checked = false; input.dispatchEvent(new Event("change")); }
        else { delete state.keep[id]; save(); refresh(); }
      });
      rows.push(tr);
    }
    state.boxes.forEach((b, i) => {
      const tr = document.createElement("tr");
      cell(tr, "Box " + (i + 1) + ": " + (KIND[b.kind] || b.kind));
      const when = cell(tr, "");
      const a = document.createElement("a"); a.href = "#"; a.dataset.go = b.start;
      a.textContent = clock(b.start) + " to " + clock(b.end); when.append(a);
      cell(tr, (b.mode === "black" ? "black box" : "blurred") + ", " + (!b.follow ? "fixed" :
        b.following ? "following it…" : b.failed ? "following failed: fixed" :
        b.path ? "follows it" + (b.lost ? " (lost it on " + b.lost + " frames: check)" : "") : "to follow"));
      cell(tr, b.reason || "no reason given", b.reason ? "" : "muted");
      const td = cell(tr, "");
      if (b.follow) button(td, "Correct it on this frame", () => {
        const t = orig.currentTime;
        if (t < b.start || t > b.end) { go(b.at); }
        startDrawing(i);
      });
      button(td, "Delete", () => { state.boxes.splice(i, 1); save(); refresh(); });
      rows.push(tr);
    });
    for (const what of ["blackout", "mute"]) {
      state[what].forEach((r, i) => {
        const tr = document.createElement("tr");
        cell(tr, what === "mute" ? "Sound muted" : "Picture blacked out");
        const when = cell(tr, "");
        const a = document.createElement("a"); a.href = "#"; a.dataset.go = r.start;
        a.textContent = clock(r.start) + " to " + clock(r.end); when.append(a);
        cell(tr, what === "mute" ? "silence" : "black frames");
        cell(tr, r.reason || "no reason given", r.reason ? "" : "muted");
        const td = cell(tr, "");
        button(td, "Delete", () => { state[what].splice(i, 1); save(); refresh(); });
        rows.push(tr);
      });
    }
    const heard = said();
    for (const x of heard) {
      const a = answerOf(x);
      if (!a || a.action !== "accept") continue;
      const [from, to] = muteRange(x, a);
      const tr = document.createElement("tr");
      cell(tr, "Sound muted: \u201c" + x.heard + "\u201d");
      const when = cell(tr, "");
      const link = document.createElement("a"); link.href = "#"; link.dataset.go = from;
      link.textContent = clock(from) + " to " + clock(to); when.append(link);
      cell(tr, "suggested by the speech search" + (a.before || a.after ? ", widened" : ""));
      cell(tr, KINDS[x.kind] || x.kind);
      const td = cell(tr, "");
      button(td, "Change", () => chooseSpeech(x.id));
      rows.push(tr);
    }
    const kept = heard.filter((x) => (answerOf(x) || {}).action === "reject").length;
    const open = heard.filter((x) => !answerOf(x)).length;
    if (kept || open) {
      const tr = document.createElement("tr");
      if (open) tr.className = "flagged";
      cell(tr, "Names and numbers heard");
      cell(tr, "see the timeline");
      cell(tr, (kept ? kept + " kept audible" : "") + (kept && open ? "; " : "") +
               (open ? open + " not answered yet" : ""));
      cell(tr, open ? "each needs an answer before the copy is made" : "your answer", "muted");
      const td = cell(tr, "");
      if (open) button(td, "Answer the next", () => chooseSpeech(nextOpen(null)));
      rows.push(tr);
    }
    if (!rows.length) {
      const tr = document.createElement("tr"); tr.className = "none";
      cell(tr, "Nothing yet: every face is blurred, nothing else.", "muted").colSpan = 5;
      rows.push(tr);
    }
    body.append(...rows);
    const keptPeople = Object.keys(state.keep).length;
    const parts = ["Every face will be blurred" + (keptPeople ? " except " + keptPeople + (keptPeople === 1 ? " person" : " people") + " you keep visible" : "")];
    if (state.boxes.length) parts.push(state.boxes.length + (state.boxes.length === 1 ? " box" : " boxes") + " hidden");
    if (state.blackout.length) parts.push(state.blackout.length + " stretch(es) blacked out");
    if (state.mute.length) parts.push(state.mute.length + " stretch(es) muted");
    const spoken = heard.filter((x) => (answerOf(x) || {}).action === "accept").length;
    if (spoken) parts.push(spoken + (spoken === 1 ? " name or number" : " names or numbers") + " heard muted");
    if (open) parts.push(open + " heard " + (open === 1 ? "name or number still needs" : "names or numbers still need") + " your answer (mute or keep) before the copy can be made");
    const unexplained = Object.entries(state.keep).filter(([, why]) => !why).length
      + state.boxes.filter((b) => !b.reason).length + state.blackout.filter((r) => !r.reason).length
      + state.mute.filter((r) => !r.reason).length;
    document.getElementById("summary").textContent = parts.join("; ") + "." + (unexplained
      ? " " + unexplained + " of your changes give no reason: reviewers and courts ask why (add it in the list above)." : "");
  }

  // ---- the timeline --------------------------------------------------------------------
  const tl = document.getElementById("timeline");
  const tctx = tl.getContext("2d");
  let facts = { seconds: [], people: [], flags: [] };
  const LEFT = 120;
  let rows = [];
  function layout() {
    rows = [{ key: "faces", label: "Faces found", h: 26 }];
    for (const p of facts.people) {
      const card = root.querySelector('.person[data-person="' + p.id + '"]');
      const many = facts.people.length > 10;
      rows.push({ key: "person", id: p.id, h: many ? 8 : 12,
                  label: (many ? "P" : "Person ") + (card ? card.dataset.number : p.id) });
    }
    rows.push({ key: "boxes", label: "Your boxes", h: 12 }, { key: "blackout", label: "Blacked out", h: 12 },
              { key: "mute", label: "Muted", h: 12 });
    if (said().length) rows.push({ key: "speech", label: "Names heard", h: 12 });
    rows.push({ key: "flags", label: "Check these", h: 12 });
    let y = 4;
    for (const r of rows) { r.y = y; y += r.h + 3; }
    tl.width = tl.clientWidth || 1000;
    tl.height = y + 14;
  }
  const xOf = (t) => LEFT + (tl.width - LEFT - 8) * (duration ? t / duration : 0);
  function bar(r, a, b, colour) {
    tctx.fillStyle = colour;
    tctx.fillRect(xOf(a), r.y, Math.max(2, xOf(b) - xOf(a)), r.h);
  }
  function drawTimeline() {
    if (!rows.length) return;
    tctx.clearRect(0, 0, tl.width, tl.height);
    for (const r of rows) {
      tctx.font = Math.min(11, r.h + 1) + "px system-ui";
      tctx.fillStyle = r.key === "person" && r.id in state.keep ? "#166534" : "#5b6777";
      tctx.fillText(r.label + (r.key === "person" && r.id in state.keep ? " (kept)" : ""), 4, r.y + r.h - 1);
      tctx.fillStyle = "#eef2f7";
      tctx.fillRect(LEFT, r.y, tl.width - LEFT - 8, r.h);
    }
    const faces = rows[0];
    const most = Math.max(1, ...facts.seconds.map((s) => s.faces));
    for (const s of facts.seconds) {
      const h = faces.h * s.faces / most;
      tctx.fillStyle = "#64748b";
      tctx.fillRect(xOf(s.t), faces.y + faces.h - h, Math.max(1, xOf(s.t + 1) - xOf(s.t) - 1), h);
    }
    for (const r of rows) {
      if (r.key === "person") {
        const p = facts.people.find((q) => q.id === r.id);
        for (const [a, b] of (p ? p.stretches : [])) bar(r, a, b, r.id in state.keep ? "#22c55e" : "#94a3b8");
      } else if (r.key === "boxes") {
        for (const b of state.boxes) bar(r, b.start, b.end, "#eab308");
      } else if (r.key === "blackout") {
        for (const b of state.blackout) bar(r, b.start, b.end, "#111827");
      } else if (r.key === "mute") {
        for (const b of state.mute) bar(r, b.start, b.end, "#7c3aed");
      } else if (r.key === "speech") {
        for (const x of said()) {
          const a = answerOf(x);
          const [from, to] = a && a.action === "accept" ? muteRange(x, a) : [x.start, x.end];
          bar(r, from, to, !a ? "#f59e0b" : a.action === "accept" ? "#7c3aed" : "#cbd5e1");
        }
      } else if (r.key === "flags") {
        for (const f of facts.flags) bar(r, f.start_time, Math.max(f.end_time, f.start_time + 1 / FPS), "#ea580c");
      }
    }
    tctx.fillStyle = "#cbd5e1";
    for (const c of facts.cuts || []) tctx.fillRect(xOf(c), 0, 1, tl.height - 12);
    const x = xOf(orig.currentTime || 0);
    tctx.font = "11px system-ui";
    tctx.fillStyle = "#1e40af";
    tctx.fillRect(x - 1, 0, 2, tl.height);
    tctx.fillStyle = "#5b6777";
    tctx.fillText("0:00", LEFT, tl.height - 2);
    tctx.fillText(clock(duration), tl.width - 44, tl.height - 2);
  }
  tl.addEventListener("click", (ev) => {
    const rect = tl.getBoundingClientRect();
    const x = (ev.clientX - rect.left) * (tl.width / rect.width);
    if (x < LEFT || !duration) return;
    orig.pause();
    orig.currentTime = Math.max(0, Math.min(duration, (x - LEFT) / (tl.width - LEFT - 8) * duration));
  });
  fetch("/console/evidence/" + E + "/studio/timeline" + (copy ? "?copy=" + encodeURIComponent(copy) : ""),
        { credentials: "same-origin" })
    .then((r) => r.json()).then((body) => {
      facts = body;
      if (!duration && body.duration) duration = body.duration;
      speechLoaded();
      layout(); drawTimeline(); listChanges();
    });

  function refresh() { listChanges(); layout(); draw(); drawTimeline(); placeSpeech(); }


  // ---- names and numbers heard: the speech search's suggestions, answered on the timeline ----
  // Each suggestion is a button under the timeline at its time (Tab reaches them in time
  // order); choosing one opens the panel: listen, widen, mute it or keep it audible. The
  // answers go with the render as the request's `speech` (the same shape the recording
  // page's form and the API send), so every suggestion must have one.
  const KINDS = { term: "a name or place you listed", number: "a number read out", pattern: "a code of the form you gave" };
  const LEVEL = {
    likely: "likely",
    possible: "possible: listen to check",
    unsure: "unsure: listen before deciding",
  };
  const track = document.getElementById("speech-track");
  const panel = document.getElementById("speech-panel");
  const beforeIn = document.getElementById("speech-before");
  const afterIn = document.getElementById("speech-after");
  let chosen = null; // the suggestion id the panel shows
  const said = () => (facts.speech && facts.speech.has_audio ? facts.speech.suggestions || [] : []);
  const answerOf = (x) => (state.speech && state.speech.id === (facts.speech || {}).id ? state.speech.answers[x.id] : undefined);
  const levelOf = (x) => x.level || (x.low_confidence ? "unsure" : "likely");
  const r3 = (v) => Math.round(v * 1000) / 1000;
  function muteRange(x, a) {
    const end = duration ? Math.max(x.end, Math.min(duration, x.end + (a.after || 0))) : x.end + (a.after || 0);
    return [r3(Math.max(0, x.start - (a.before || 0))), r3(end)];
  }
  function speechChoice() {
    return { analysis_id: facts.speech.id, decisions: said().map((x) => {
      const a = answerOf(x);
      const d = { id: x.id, action: a.action };
      if (a.action === "accept" && (a.before || a.after)) [d.start, d.end] = muteRange(x, a);
      return d;
    }) };
  }
  function describe(x) {
    const a = answerOf(x);
    const state_ = !a ? "not answered yet" : a.action === "accept"
      ? "will be muted" + (a.before || a.after ? " (widened)" : "") : "kept audible";
    return "\u201c" + x.heard + "\u201d at " + clock(x.heard_start) + ", " + LEVEL[levelOf(x)] + "; " + state_;
  }
  function speechLoaded() {
    const sp = facts.speech;
    document.getElementById("speech-none").hidden = !!sp;
    const found = document.getElementById("speech-found");
    found.hidden = !sp;
    if (!sp) return;
    if (!state.speech || state.speech.id !== sp.id) { state.speech = { id: sp.id, answers: {} }; save(); }
    if (!sp.has_audio || !said().length) {
      found.textContent = sp.has_audio
        ? "The last speech search found no name or number to mute."
        : "The last speech search found no sound in this recording.";
      return;
    }
    track.textContent = "";
    for (const x of said()) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.suggestion = x.id;
      b.addEventListener("click", () => chooseSpeech(x.id));
      b.addEventListener("keydown", (ev) => speechKey(ev, x.id));
      track.append(b);
    }
    placeSpeech();
  }
  // each button at its time, in as many lanes as needed so none hides another
  function placeSpeech() {
    if (!track || !said().length) return;
    const width = track.clientWidth || 800;
    const ends = [];
    for (const x of said()) {
      const b = track.querySelector('[data-suggestion="' + x.id + '"]');
      if (!b) continue;
      const a = answerOf(x);
      const level = levelOf(x);
      b.className = "sugg " + level + (a ? " " + a.action : "") + (chosen === x.id ? " chosen" : "");
      const bare = x.heard.replace(/[.,!?;:]+$/, "");
      const word = bare.length > 18 ? bare.slice(0, 17) + "\u2026" : bare;
      b.textContent = word + " \u00b7 " + level;
      b.title = describe(x) + ". " + x.why + (x.confidence !== undefined
        ? ". Measured: " + Math.round(x.confidence * 100) + " in 100 suggestions like this were a name or number to mute" : "");
      b.setAttribute("aria-label", "Suggestion " + (x.id + 1) + ": " + describe(x));
      b.setAttribute("aria-pressed", chosen === x.id ? "true" : "false");
      const left = duration ? width * x.start / duration : 0;
      let lane = ends.findIndex((e) => e <= left);
      if (lane < 0) { lane = ends.length; ends.push(0); }
      b.style.left = Math.min(left, Math.max(0, width - b.offsetWidth)) + "px";
      b.style.top = (lane * 26) + "px";
      ends[lane] = left + b.offsetWidth + 4;
    }
    track.style.height = (Math.max(1, ends.length) * 26 + 2) + "px";
    // the track lines up with the canvas's drawing area (LEFT px of labels, 8 px margin)
    const open = said().filter((x) => !answerOf(x)).length;
    const muted = said().filter((x) => (answerOf(x) || {}).action === "accept").length;
    document.getElementById("speech-tally").textContent = said().length + " heard: " + muted + " to be muted, " +
      (said().length - muted - open) + " kept audible, " + open + " not answered yet.";
    document.getElementById("speech-accept-rest").hidden = !open;
  }
  function chooseSpeech(id) {
    const x = said().find((s) => s.id === id);
    if (!x) return;
    chosen = id;
    const a = answerOf(x) || {};
    panel.hidden = false;
    document.getElementById("speech-what").textContent = "\u201c" + x.heard + "\u201d, heard " + clock(x.heard_start) +
      " to " + clock(x.heard_end) + " (" + KINDS[x.kind] + (x.term ? ": " + x.term : "") + "). How sure: " +
      LEVEL[levelOf(x)] + (x.spotted_only ? " (picked out by keyword search only, not in the transcript)" : "") + ". Now: " + (a.action === "accept" ? "will be muted" : a.action === "reject" ? "kept audible" : "not answered yet") + ".";
    const [from, to] = a.action === "accept" ? muteRange(x, a) : [x.start, x.end];
    document.getElementById("speech-why").textContent = (a.action === "accept" ? "Muted: " : "Muted if you say so: ") +
      clock(from) + " to " + clock(to) + (a.before || a.after ? " (widened as you asked)" : " (a little either side of the words)") +
      ". Why suggested: " + x.why + ".";
    beforeIn.value = a.before || 0;
    afterIn.value = a.after || 0;
    placeSpeech();
    const b = track.querySelector('[data-suggestion="' + id + '"]');
    if (b && document.activeElement !== b && !panel.contains(document.activeElement)) b.focus();
    orig.pause();
    orig.currentTime = Math.max(0, x.start);
  }
  function answer(id, action) {
    const x = said().find((s) => s.id === id);
    if (!x) return;
    const before = Math.max(0, parseFloat(beforeIn.value) || 0);
    const after = Math.max(0, parseFloat(afterIn.value) || 0);
    state.speech.answers[id] = action === "accept" ? { action, before: round1(before), after: round1(after) } : { action };
    save(); showError(null); refresh();
    const next = nextOpen(id);
    if (next !== null) chooseSpeech(next);
    else { chooseSpeech(id); }
    const b = track.querySelector('[data-suggestion="' + chosen + '"]');
    if (b) b.focus();
  }
  function nextOpen(from) {
    const list = said();
    const at = Math.max(0, list.findIndex((x) => x.id === from));
    for (let k = 1; k <= list.length; k++) {
      const x = list[(at + k) % list.length];
      if (!answerOf(x)) return x.id;
    }
    return null;
  }
  function speechKey(ev, id) {
    const list = said();
    const at = list.findIndex((x) => x.id === id);
    const key = ev.key.toLowerCase();
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      const next = list[at + (ev.key === "ArrowRight" ? 1 : -1)];
      if (next) { ev.preventDefault(); chooseSpeech(next.id); track.querySelector('[data-suggestion="' + next.id + '"]').focus(); }
    } else if (key === "m" || key === "k") {
      ev.preventDefault(); chosen = id; answer(id, key === "m" ? "accept" : "reject");
    } else if (key === "l") {
      ev.preventDefault(); chooseSpeech(id); listen();
    }
  }
  let stopAt = null;
  function listen() {
    const x = said().find((s) => s.id === chosen);
    if (!x) return;
    orig.currentTime = Math.max(0, x.start - 1);
    stopAt = x.end + 0.5;
    orig.play();
  }
  orig.addEventListener("timeupdate", () => {
    if (stopAt !== null && orig.currentTime >= stopAt) { orig.pause(); stopAt = null; }
  });
  // pressing Play or going elsewhere ends a listen
  playBtn.addEventListener("click", () => { stopAt = null; });
  tl.addEventListener("click", () => { stopAt = null; });
  document.getElementById("speech-listen").addEventListener("click", listen);
  document.getElementById("speech-accept").addEventListener("click", () => answer(chosen, "accept"));
  document.getElementById("speech-reject").addEventListener("click", () => answer(chosen, "reject"));
  document.getElementById("speech-next").addEventListener("click", () => {
    const next = nextOpen(chosen);
    if (next !== null) chooseSpeech(next);
  });
  document.getElementById("speech-accept-rest").addEventListener("click", () => {
    for (const x of said()) if (!answerOf(x)) state.speech.answers[x.id] = { action: "accept", before: 0, after: 0 };
    save(); showError(null); refresh();
  });

  // ---- render -----------------------------------------------------------------------
  const renderBtn = document.getElementById("render");
  renderBtn.addEventListener("click", async () => {
    if (state.boxes.some((b) => b.following)) {
      showError({ message: "a box is still being followed; wait a moment and press again" }, renderBtn);
      return;
    }
    const clean = (b) => {
      const out = { start: b.start, end: b.end, box: b.box, kind: b.kind, mode: b.mode, reason: b.reason };
      if (b.follow && !b.failed) Object.assign(out, { follow: true, at: b.at, keyframes: b.keyframes || [], path: b.path || null });
      return out;
    };
    const open = said().filter((x) => !answerOf(x));
    if (open.length) {
      showError({ message: open.length + " of the names and numbers heard " + (open.length === 1 ? "has" : "have") +
                  " no answer yet: choose each orange box on the timeline and press Mute it or Keep it audible" +
                  " (or Mute every one not answered yet)" }, renderBtn);
      chooseSpeech(open[0].id);
      return;
    }
    const reasons = {};
    for (const [id, why] of Object.entries(state.keep)) if (why) reasons[id] = why;
    const choices = {
      keep_persons: Object.keys(state.keep), keep_reasons: reasons,
      regions: { boxes: state.boxes.map(clean), blackout: state.blackout, mute: state.mute },
    };
    if (said().length) choices.speech = speechChoice();
    renderBtn.disabled = true;
    renderBtn.textContent = "Sending…";
    try {
      const r = await fetch("/console/evidence/" + E + "/studio/render", {
        method: "POST", credentials: "same-origin",
        body: new URLSearchParams({ csrf: root.dataset.csrf, opened: root.dataset.opened,
                                    choices: JSON.stringify(choices) }) });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) { showError(body.error || { message: "the server refused (" + r.status + ")" }, renderBtn); return; }
      location.href = body.next;
    } finally {
      renderBtn.disabled = false;
      renderBtn.textContent = "Make the redacted copy";
    }
  });
  document.getElementById("reset").addEventListener("click", () => {
    if (!confirm("Forget every change on this page (people kept, boxes, ranges, answers to names heard)?")) return;
    state = blank(); save(); location.reload();
  });

  fit(); refresh();
  // boxes being followed when the page was left are followed again
  for (const b of state.boxes) if (b.following) followBox(b);
})();
