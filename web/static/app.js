"use strict";
// catd's page: plain JavaScript, no libraries. Every change is a POST or
// DELETE carrying the session's CSRF token.
const $ = (id) => document.getElementById(id);
let csrf = "";
let roi = [];        // the region in force, frame pixels
let drawn = null;    // a region drawn, not saved yet
let drawing = false, start = null;
let lastSeq = -1;
let frameW = 0, frameH = 0; // the frame's size in pixels: the region's units

async function api(method, url, body) {
  const opt = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(url, opt);
  if (r.status === 401) { location.href = "/login"; throw new Error("logged out"); }
  const text = await r.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch (e) { data = {}; }
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function say(text, bad) {
  const m = $("message");
  m.textContent = text;
  m.className = bad ? "error" : "ok";
}

async function act(method, url, body) {
  try {
    const d = await api(method, url, body);
    say(d.reply || "done");
    return true;
  } catch (e) {
    say(e.message, true);
    return false;
  }
}

// Live view: the figures twice a second, the frame when it changed.
async function live() {
  try {
    const d = await api("GET", "/api/live");
    roi = d.roi || [];
    if (d.ready) {
      frameW = d.w; frameH = d.h;
      $("live-info").textContent = "frame " + d.seq + ": p(cat) " + d.p_cat.toFixed(3) +
        ", threshold " + d.threshold.toFixed(3) + (d.cat ? ", cat present" : ", no cat");
      $("live").classList.toggle("present", d.cat);
      if (d.seq !== lastSeq) {
        lastSeq = d.seq;
        $("frame").src = "/api/frame.jpg?seq=" + d.seq;
      }
      if (document.activeElement !== $("threshold")) $("threshold").value = d.threshold.toFixed(2);
    }
    overlay();
  } catch (e) { /* shown by the next successful call */ }
}

function overlay() {
  const img = $("frame"), c = $("overlay");
  if (!img.naturalWidth) return;
  const w = frameW || img.naturalWidth, h = frameH || img.naturalHeight;
  if (c.width !== w || c.height !== h) {
    c.width = w; c.height = h;
  }
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const lw = Math.max(2, c.width / 200);
  if (roi.length === 4) {
    g.strokeStyle = "#ffd400"; g.lineWidth = lw; g.setLineDash([]);
    g.strokeRect(roi[0], roi[1], roi[2] - roi[0], roi[3] - roi[1]);
  }
  if (drawn) {
    g.strokeStyle = "#00e5ff"; g.lineWidth = lw; g.setLineDash([3 * lw, 2 * lw]);
    g.strokeRect(drawn[0], drawn[1], drawn[2] - drawn[0], drawn[3] - drawn[1]);
  }
}

function framePoint(ev) {
  const c = $("overlay"), b = c.getBoundingClientRect();
  const x = Math.round((ev.clientX - b.left) * c.width / b.width);
  const y = Math.round((ev.clientY - b.top) * c.height / b.height);
  return [Math.min(Math.max(x, 0), c.width), Math.min(Math.max(y, 0), c.height)];
}

function setupDrawing() {
  const c = $("overlay");
  $("draw").addEventListener("click", () => {
    drawing = !drawing;
    $("draw").classList.toggle("on", drawing);
    c.classList.toggle("drawing", drawing);
    say(drawing ? "drag over the frame to draw the region" : "");
  });
  c.addEventListener("pointerdown", (ev) => {
    if (!drawing) return;
    c.setPointerCapture(ev.pointerId);
    start = framePoint(ev);
    drawn = null;
  });
  c.addEventListener("pointermove", (ev) => {
    if (!drawing || !start) return;
    const p = framePoint(ev);
    drawn = [Math.min(start[0], p[0]), Math.min(start[1], p[1]), Math.max(start[0], p[0]), Math.max(start[1], p[1])];
    overlay();
  });
  c.addEventListener("pointerup", () => {
    start = null;
    const ok = drawn && drawn[2] - drawn[0] >= 8 && drawn[3] - drawn[1] >= 8;
    if (!ok) drawn = null;
    $("roi-save").disabled = !ok;
    overlay();
  });
  $("roi-save").addEventListener("click", async () => {
    if (!drawn) return;
    if (await act("POST", "/api/roi", { roi: drawn })) {
      roi = drawn; drawn = null; drawing = false;
      $("draw").classList.remove("on"); c.classList.remove("drawing");
      $("roi-save").disabled = true;
      overlay();
    }
  });
  $("roi-clear").addEventListener("click", () => act("POST", "/api/roi", { roi: [] }));
}

async function status() {
  try {
    const s = await api("GET", "/api/status");
    $("presence").textContent = s.cat ? "cat present" : "no cat";
    $("presence").className = "badge " + (s.cat ? "yes" : "no");
    $("summary").textContent = s.fps.toFixed(1) + " frames/s, " + s.model;
    const auc = s.held_out_auc === undefined ? "not measured" : s.held_out_auc.toFixed(3);
    $("learning-info").textContent = "learning " + s.learning + " (" + (s.learning_state || "") + "); labels: " +
      s.labels_cat + " cat, " + s.labels_noncat + " not cat; rounds " + s.rounds + ", accepted " +
      s.rounds_accepted + "; held-out AUC " + auc + "; model " + s.model;
    $("review-count").textContent = "(" + s.review_frames + ")";
  } catch (e) { /* status.json not written yet */ }
}

function tile(dir, f, buttons) {
  const d = document.createElement("figure");
  d.className = "tile";
  d.dataset.name = f.name;
  const img = document.createElement("img");
  img.loading = "lazy";
  img.alt = f.name;
  img.src = "/api/" + dir + "/" + encodeURIComponent(f.name);
  d.appendChild(img);
  const cap = document.createElement("figcaption");
  cap.textContent = f.time ? f.time.slice(5, 10) + " " + f.time.slice(11, 19) + " · p " + (f.p_cat || 0).toFixed(2) : f.name;
  d.appendChild(cap);
  const row = document.createElement("div");
  row.className = "buttons";
  for (const [label, cls, fn] of buttons) {
    const b = document.createElement("button");
    b.textContent = label; b.className = cls;
    b.addEventListener("click", async () => { if (await fn()) d.remove(); });
    row.appendChild(b);
  }
  d.appendChild(row);
  return d;
}

async function review() {
  try {
    const files = await api("GET", "/api/review");
    const grid = $("review");
    grid.replaceChildren(...files.map((f) => tile("review", f, [
      ["cat", "cat", () => act("POST", "/api/label", { class: "cat", frame: f.name })],
      ["not cat", "noncat", () => act("POST", "/api/label", { class: "noncat", frame: f.name })],
    ])));
    if (!files.length) grid.textContent = "nothing to review";
  } catch (e) { say(e.message, true); }
}

async function snapshots() {
  try {
    const files = await api("GET", "/api/snapshots");
    $("snapshot-count").textContent = "(" + files.length + ")";
    const grid = $("snapshots");
    grid.replaceChildren(...files.map((f) => tile("snapshots", f, [
      ["delete", "quiet", () => act("DELETE", "/api/snapshots/" + encodeURIComponent(f.name))],
    ])));
    if (!files.length) grid.textContent = "no snapshots";
  } catch (e) { say(e.message, true); }
}

// The learning chart: held-out loss (left scale) and ROC AUC (0..1) per round.
async function chart() {
  let rounds;
  try { rounds = await api("GET", "/api/rounds"); } catch (e) { return; }
  const c = $("chart"), g = c.getContext("2d");
  const w = c.width, h = c.height, pad = 30;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#888"; g.lineWidth = 1;
  g.strokeRect(pad, 10, w - 2 * pad, h - pad - 10);
  g.fillStyle = "#888"; g.font = "12px sans-serif";
  if (!rounds.length) { g.fillText("no learning round yet", pad + 10, h / 2); return; }
  const losses = rounds.filter((r) => r.val_loss !== null).map((r) => r.val_loss);
  const maxLoss = Math.max(0.1, ...losses) * 1.1;
  const x = (i) => pad + (rounds.length === 1 ? 0.5 : i / (rounds.length - 1)) * (w - 2 * pad);
  const yLoss = (v) => 10 + (1 - v / maxLoss) * (h - pad - 20);
  const yAUC = (v) => 10 + (1 - v) * (h - pad - 20);
  g.fillText(maxLoss.toFixed(2), 0, 20); g.fillText("0", 10, h - pad);
  g.fillText("AUC 1", w - pad + 2, 20); g.fillText(rounds.length + " rounds", w / 2 - 20, h - 8);
  for (const [key, y, color] of [["val_loss", yLoss, "#e4572e"], ["val_auc", yAUC, "#2e86ab"]]) {
    g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 1.5;
    g.beginPath();
    let first = true;
    rounds.forEach((r, i) => {
      if (r[key] === null) return;
      if (first) g.moveTo(x(i), y(r[key])); else g.lineTo(x(i), y(r[key]));
      first = false;
    });
    g.stroke();
    rounds.forEach((r, i) => {
      if (r[key] === null) return;
      g.beginPath(); g.arc(x(i), y(r[key]), 3.5, 0, 2 * Math.PI);
      if (r.accepted) g.fill(); else g.stroke();
    });
  }
}

function events() {
  const es = new EventSource("/api/events");
  es.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    const li = document.createElement("li");
    let text = ev.time.slice(11, 19) + " " + ev.kind;
    if (ev.p_cat !== undefined) text += " p " + ev.p_cat.toFixed(2);
    if (ev.msg) text += ": " + ev.msg;
    if (ev.stats) text += ": " + ev.stats.fps + " frames/s, p50 " + ev.stats.p50_ms + " ms";
    li.textContent = text;
    const list = $("events");
    list.prepend(li);
    while (list.children.length > 50) list.lastChild.remove();
    if (ev.kind === "trained") chart();
    if (ev.kind === "cat_present" || ev.kind === "cat_gone") { snapshots(); review(); }
  };
}

async function main() {
  try {
    csrf = (await api("GET", "/api/session")).csrf;
  } catch (e) { return; }
  $("frame").addEventListener("load", overlay);
  setupDrawing();
  $("logout").addEventListener("click", async () => { await act("POST", "/logout"); location.href = "/login"; });
  $("latest-cat").addEventListener("click", () => act("POST", "/api/label", { class: "cat", frame: "" }));
  $("latest-noncat").addEventListener("click", () => act("POST", "/api/label", { class: "noncat", frame: "" }));
  $("learn-on").addEventListener("click", () => act("POST", "/api/learn", { on: true }).then(status));
  $("learn-off").addEventListener("click", () => act("POST", "/api/learn", { on: false }).then(status));
  $("save").addEventListener("click", () => act("POST", "/api/save"));
  $("threshold-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("POST", "/api/threshold", { threshold: parseFloat($("threshold").value) });
  });
  live(); status(); review(); snapshots(); chart(); events();
  setInterval(live, 500);
  setInterval(status, 2000);
  setInterval(review, 15000);
  setInterval(snapshots, 30000);
  setInterval(chart, 30000);
}
main();
