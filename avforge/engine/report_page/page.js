// avforge report page: draws the data embedded in #avforge-data; no network, no libraries.
(() => {
  'use strict';
  const D = JSON.parse(document.getElementById('avforge-data').textContent);
  const $ = (id) => document.getElementById(id);
  const MOD = { audio: '#e67e22', visual: '#1f77b4', both: '#8e44ad' };
  const CURVE = { fused: '#1b1b1b', audio: MOD.audio, visual: MOD.visual };
  const EXTRA = ['#2ca02c', '#8c564b', '#e377c2', '#7f7f7f', '#17becf'];
  const LABEL = { fused: 'fused p(fake)', audio: 'audio p(fake)', visual: 'visual p(fake)', sync: 'lip–speech sync' };
  const M = { left: 78, right: 10 };
  const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));

  let extra = 0;
  const curves = Object.entries(D.curves).map(([name, s]) => ({
    name, v: bytes(s), label: LABEL[name] || name, color: CURVE[name] || EXTRA[extra++ % EXTRA.length] }));
  const peaks = D.audio_peaks ? bytes(D.audio_peaks) : null;
  const segs = D.segments.map((r, i) => ({ i, score: r[0], start: r[1], end: r[2], modality: r[3],
    iou: D.segment_iou ? D.segment_iou[i] : null }));
  const truth = D.truth ? D.truth.segments : [];
  const dur = D.duration_s, fps = D.fps;
  const video = $('video'), canvas = $('timeline'), ctx = canvas.getContext('2d');
  const S = { t0: 0, t1: dur, time: 0, selected: null, minScore: 0,
    mods: new Set(['audio', 'visual', 'both']), sort: 'score', shown: [] };

  // ---------------------------------------------------------------- time helpers
  function fmt(t, digits = 2) {
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t - 3600 * h - 60 * m;
    const ss = s.toFixed(digits).padStart(digits ? digits + 3 : 2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : m ? `${m}:${ss}` : `${s.toFixed(digits)} s`;
  }
  const plotW = () => canvas.clientWidth - M.left - M.right;
  const xOf = (t) => M.left + ((t - S.t0) / (S.t1 - S.t0)) * plotW();
  const tOf = (x) => S.t0 + ((x - M.left) / plotW()) * (S.t1 - S.t0);
  const clampT = (t) => Math.min(Math.max(t, 0), dur);

  // ---------------------------------------------------------------- lanes
  const lanes = [];
  let laneY = 6;
  for (const [kind, h, label] of [['wave', 40, 'audio'], ['curves', 150, 'per-frame'], ['segments', 34, 'segments'],
    ...(D.truth ? [['truth', 24, 'truth']] : [])]) {
    lanes.push({ kind, y: laneY, h, label });
    laneY += h + 8;
  }
  const AXIS_H = 22, HEIGHT = laneY + AXIS_H;
  const lane = (kind) => lanes.find((l) => l.kind === kind);

  // ---------------------------------------------------------------- drawing
  function columns(v, W) {  // per pixel column: [min, max] of the frames it covers (0..255)
    const lo = new Uint8Array(W), hi = new Uint8Array(W), n = v.length;
    for (let c = 0; c < W; c++) {
      let f0 = Math.floor((S.t0 + (c / W) * (S.t1 - S.t0)) * fps);
      let f1 = Math.floor((S.t0 + ((c + 1) / W) * (S.t1 - S.t0)) * fps);
      f0 = Math.min(Math.max(f0, 0), n - 1);
      f1 = Math.min(Math.max(f1, f0 + 1), n);
      let a = 255, b = 0;
      for (let f = f0; f < f1; f++) { const x = v[f]; if (x < a) a = x; if (x > b) b = x; }
      lo[c] = a; hi[c] = b;
    }
    return [lo, hi];
  }

  function ticks() {
    const span = S.t1 - S.t0, steps = [0.04, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    const step = steps.find((s) => (s / span) * plotW() >= 80) || 7200;
    const out = [];
    for (let t = Math.ceil(S.t0 / step) * step; t <= S.t1 + 1e-9; t += step) out.push(t);
    return { step, out };
  }

  function visible() { return segs.filter((s) => s.score >= S.minScore && S.mods.has(s.modality)); }

  function draw() {
    const dpr = window.devicePixelRatio || 1, Wc = canvas.clientWidth;
    canvas.width = Math.round(Wc * dpr); canvas.height = Math.round(HEIGHT * dpr);
    canvas.style.height = HEIGHT + 'px';
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, Wc, HEIGHT);
    const W = Math.max(1, Math.floor(plotW()));
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (const l of lanes) {
      ctx.fillStyle = '#fafafa'; ctx.fillRect(M.left, l.y, W, l.h);
      ctx.fillStyle = '#333'; ctx.textAlign = 'right';
      ctx.fillText(l.label, M.left - 8, l.y + (l.kind === 'curves' ? 10 : l.h / 2));
    }
    const tk = ticks();
    ctx.strokeStyle = '#e4e4e4'; ctx.lineWidth = 1;
    for (const t of tk.out) { const x = Math.round(xOf(t)) + 0.5; ctx.beginPath(); ctx.moveTo(x, 6); ctx.lineTo(x, laneY - 8); ctx.stroke(); }
    // waveform
    const wl = lane('wave');
    if (peaks) {
      const [, hi] = columns(peaks, W), mid = wl.y + wl.h / 2;
      ctx.fillStyle = '#7a8899';
      for (let c = 0; c < W; c++) { const a = (hi[c] / 255) * (wl.h / 2 - 1); ctx.fillRect(M.left + c, mid - a, 1, 2 * a + 0.5); }
    } else {
      ctx.fillStyle = '#888'; ctx.textAlign = 'left'; ctx.fillText('no audio stream (read as silence)', M.left + 8, wl.y + wl.h / 2);
    }
    // curves lane: truth shading, selected segment, grid, curves
    const cl = lane('curves'), yv = (v) => cl.y + cl.h - (v / 255) * cl.h;
    ctx.fillStyle = 'rgba(214,39,40,0.10)';
    for (const g of truth) ctx.fillRect(xOf(g.start), cl.y, Math.max(1, xOf(g.end) - xOf(g.start)), cl.h);
    if (S.selected !== null) {
      const s = segs[S.selected]; ctx.fillStyle = 'rgba(142,68,173,0.12)';
      ctx.fillRect(xOf(s.start), cl.y, Math.max(2, xOf(s.end) - xOf(s.start)), cl.h);
    }
    ctx.textAlign = 'right'; ctx.fillStyle = '#555'; ctx.strokeStyle = '#ddd';
    for (const v of [0, 0.5, 1]) {
      const y = Math.round(yv(v * 255)) + 0.5;
      ctx.beginPath(); ctx.moveTo(M.left, y); ctx.lineTo(M.left + W, y); ctx.stroke();
      ctx.fillText(v.toFixed(1), M.left - 8, Math.min(Math.max(y, cl.y + 24), cl.y + cl.h - 6));
    }
    for (const c of curves) {
      const [lo, hi] = columns(c.v, W);
      ctx.globalAlpha = 0.18; ctx.fillStyle = c.color;
      for (let i = 0; i < W; i++) if (hi[i] > lo[i]) ctx.fillRect(M.left + i, yv(hi[i]), 1, yv(lo[i]) - yv(hi[i]));
      ctx.globalAlpha = 1; ctx.strokeStyle = c.color; ctx.lineWidth = c.name === 'fused' ? 2 : 1.3;
      ctx.beginPath();
      for (let i = 0; i < W; i++) { const y = yv(hi[i]); i ? ctx.lineTo(M.left + i + 0.5, y) : ctx.moveTo(M.left, y); }
      ctx.stroke();
    }
    // segment bands, as tall as their score: the tallest first, so every band's top shows
    const sl = lane('segments');
    for (const s of visible().sort((a, b) => b.score - a.score)) {
      const r = band(s);
      if (!r) continue;
      ctx.globalAlpha = 0.25 + 0.75 * s.score; ctx.fillStyle = MOD[s.modality] || MOD.both;
      ctx.fillRect(r.x, r.y, r.w, r.h);
    }
    ctx.globalAlpha = 1;
    if (S.selected !== null) {
      const r = band(segs[S.selected]);
      if (r) { ctx.strokeStyle = '#000'; ctx.lineWidth = 2; ctx.strokeRect(r.x, r.y + 1, r.w, r.h - 1); }
    }
    const tl = lane('truth');
    if (tl) for (const g of truth) {
      ctx.fillStyle = MOD[g.modality] || MOD.both;
      ctx.fillRect(xOf(g.start), tl.y + 3, Math.max(2, xOf(g.end) - xOf(g.start)), tl.h - 6);
    }
    // time axis
    ctx.fillStyle = '#333'; ctx.textAlign = 'center';
    const digits = tk.step < 0.1 ? 2 : tk.step < 1 ? 1 : 0;
    for (const t of tk.out) ctx.fillText(fmt(t, digits), Math.min(Math.max(xOf(t), M.left + 24), M.left + W - 24), laneY + AXIS_H / 2 - 4);
    placePlayhead();
  }

  function band(s) {  // the band of segment s on the canvas (CSS px), null when out of view
    if (s.end < S.t0 || s.start > S.t1) return null;
    const sl = lane('segments'), h = Math.max(4, s.score * sl.h);
    const x0 = Math.max(xOf(s.start), M.left), x1 = Math.min(xOf(s.end), M.left + plotW());
    return { x: x0, w: Math.max(2, x1 - x0), y: sl.y + sl.h - h, h };
  }

  // ---------------------------------------------------------------- playhead, seeking, zoom
  const playhead = $('playhead');
  function now() { return video.readyState >= 1 ? video.currentTime : S.time; }
  function placePlayhead() {
    const t = now();
    $('clock').textContent = `${fmt(t)} / ${fmt(dur)}`;
    if (t < S.t0 || t > S.t1) { playhead.style.display = 'none'; return; }
    playhead.style.display = 'block';
    playhead.style.left = xOf(t) + 'px';
    playhead.style.height = (laneY - 6) + 'px';
    playhead.style.top = '6px';
  }
  function follow() {  // a zoomed view pages along with the playing video
    const t = now(), span = S.t1 - S.t0;
    if (span < dur && (t > S.t1 || t < S.t0)) { setView(t - 0.05 * span, span); return true; }
    return false;
  }
  function seek(t) {
    S.time = clampT(t);
    video.currentTime = S.time;
    if (!follow()) placePlayhead();
  }
  function setView(t0, span) {
    span = Math.min(Math.max(span, Math.min(2, dur)), dur);
    S.t0 = Math.min(Math.max(t0, 0), dur - span); S.t1 = S.t0 + span;
    draw();
  }
  function tick() { if (!video.paused) { if (!follow()) placePlayhead(); requestAnimationFrame(tick); } }
  video.addEventListener('play', () => requestAnimationFrame(tick));
  for (const ev of ['timeupdate', 'seeked', 'loadedmetadata']) video.addEventListener(ev, () => { S.time = now(); placePlayhead(); });

  canvas.addEventListener('click', (e) => {
    const r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    if (x < M.left) return;
    const t = clampT(tOf(x)), sl = lane('segments');
    if (y >= sl.y && y <= sl.y + sl.h) {  // the shortest band under the pointer: the one drawn on top there
      const hit = visible().filter((s) => { const b = band(s); return b && x >= b.x - 2 && x <= b.x + b.w + 2 && y >= b.y - 1; })
        .sort((a, b) => a.score - b.score)[0];
      if (hit) { select(hit.i, true); return; }
    }
    seek(t);
  });
  canvas.addEventListener('wheel', (e) => {
    const r = canvas.getBoundingClientRect(), t = tOf(e.clientX - r.left);
    if (t < S.t0 || t > S.t1) return;
    e.preventDefault();
    const span = (S.t1 - S.t0) * (e.deltaY > 0 ? 1.25 : 0.8);
    setView(t - ((t - S.t0) / (S.t1 - S.t0)) * span, span);
  }, { passive: false });
  for (const b of document.querySelectorAll('[data-zoom]')) b.addEventListener('click', () => {
    const span = Number(b.dataset.zoom) || dur;
    setView(now() - span / 2, span);
  });

  // ---------------------------------------------------------------- segment table, selection, crops
  const tbody = $('segtable').tBodies[0], ROWS = 300;  // rows built at once; "show all" builds the rest
  function renderTable(all = false) {
    S.shown = visible().sort(S.sort === 'start' ? (a, b) => a.start - b.start : (a, b) => b.score - a.score);
    $('f-count').textContent = `${S.shown.length} of ${segs.length} segments`;
    const rows = all ? S.shown : S.shown.slice(0, ROWS);
    if (S.selected !== null && !rows.includes(segs[S.selected]) && S.shown.includes(segs[S.selected])) rows.push(segs[S.selected]);
    tbody.innerHTML = S.shown.length ? rows.map((s) => `<tr data-i="${s.i}"${s.i === S.selected ? ' class="sel"' : ''}>` +
      `<td>${s.i + 1}</td><td>${fmt(s.start)}</td><td>${fmt(s.end)}</td><td>${(s.end - s.start).toFixed(2)} s</td>` +
      `<td>${s.score.toFixed(3)}</td><td class="m"><span class="chip" style="background:${MOD[s.modality] || MOD.both}"></span>${esc(s.modality)}</td>` +
      `<td class="iou">${s.iou === null ? '' : s.iou.toFixed(2)}</td></tr>`).join('') +
      (rows.length < S.shown.length ? `<tr class="more"><td colspan="7" class="m">${S.shown.length - rows.length} more: ` +
        'raise the min score, or <button>show all</button></td></tr>' : '')
      : `<tr><td colspan="7" class="m">${segs.length ? 'no segment passes the filter' : 'no segments predicted'}</td></tr>`;
  }
  tbody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-i]');
    if (tr) select(Number(tr.dataset.i), true);
    else if (e.target.closest('tr.more button')) renderTable(true);
  });
  function select(i, jump) {
    S.selected = i;
    const s = segs[i];
    if (jump) seek(s.start);
    for (const tr of tbody.querySelectorAll('tr.sel')) tr.classList.remove('sel');
    let row = tbody.querySelector(`tr[data-i="${i}"]`);
    if (!row && S.shown.includes(s)) { renderTable(); row = tbody.querySelector(`tr[data-i="${i}"]`); }
    if (row) { row.classList.add('sel'); row.scrollIntoView({ block: 'nearest' }); }
    renderCrops();
    draw();
  }
  function renderCrops() {
    const box = $('crops'), s = S.selected === null ? null : segs[S.selected];
    const c = s && D.crops[String(s.i)];
    $('crops-title').textContent = s ? `around segment ${s.i + 1} (${fmt(s.start)} – ${fmt(s.end)})` : '';
    if (!c) {
      box.innerHTML = `<span class="hint">${!s ? 'Select a segment to see the mouth crops the visual encoder saw around it.'
        : D.crops_note || 'No crops for this segment.'}</span>`;
      return;
    }
    box.innerHTML = c.times.map((t, k) => `<figure data-t="${t}"><img class="${t >= s.start && t <= s.end ? 'in' : ''}" ` +
      `src="data:image/jpeg;base64,${c.jpeg[k]}" alt="mouth at ${fmt(t)}"><figcaption>${fmt(t)}</figcaption></figure>`).join('');
  }
  $('crops').addEventListener('click', (e) => { const f = e.target.closest('figure'); if (f) seek(Number(f.dataset.t)); });
  $('f-score').addEventListener('input', (e) => { S.minScore = Number(e.target.value); $('f-score-v').textContent = S.minScore.toFixed(2); renderTable(); draw(); });
  for (const cb of document.querySelectorAll('.f-mod')) cb.addEventListener('change', () => {
    if (cb.checked) S.mods.add(cb.value); else S.mods.delete(cb.value);
    renderTable(); draw();
  });
  $('f-sort').addEventListener('change', (e) => { S.sort = e.target.value; renderTable(); });

  // ---------------------------------------------------------------- static parts
  function header() {
    document.title = `avforge · ${D.file}`;
    $('title').textContent = D.file;
    $('summary').innerHTML = `video score <b>${D.video_score.toFixed(3)}</b> <span class="score-bar"><i style="width:${(100 * D.video_score).toFixed(1)}%"></i></span>` +
      ` probability that the video holds a forgery · ${fmt(dur)} · ${segs.length} segment${segs.length === 1 ? '' : 's'}` +
      (D.cap_note ? ` · ${esc(D.cap_note)}` : '') + (D.has_audio ? '' : ' · <b>no audio stream</b> (read as silence)');
    $('notes').textContent = D.notes.join(' ');
    const items = curves.map((c) => `<span><span class="line" style="background:${c.color}"></span>${esc(c.label)}</span>`)
      .concat(Object.entries(MOD).map(([m, col]) => `<span><span class="box" style="background:${col}"></span>${m} segment</span>`));
    if (D.truth) items.push('<span><span class="box" style="background:rgba(214,39,40,0.25)"></span>true fake (shaded)</span>');
    $('legend').innerHTML = items.join('');
    $('settings').textContent = JSON.stringify(D.settings, null, 2);
    $('footer').textContent = `avforge ${D.version} · generated ${D.generated} · self-contained page (no network)`;
    if (!D.truth) for (const el of document.querySelectorAll('.iou')) el.style.display = 'none';
    else {
      $('truth-box').hidden = false;
      $('truth-title').textContent = `(${D.truth.modify_type})`;
      $('truthtable').tBodies[0].innerHTML = truth.length ? truth.map((g) => `<tr data-t="${g.start}"><td>${fmt(g.start)}</td><td>${fmt(g.end)}</td>` +
        `<td class="m"><span class="chip" style="background:${MOD[g.modality] || MOD.both}"></span>${esc(g.modality)}</td>` +
        `<td>${g.match === null ? '–' : '#' + (g.match + 1)}</td><td>${g.iou.toFixed(2)}</td></tr>`).join('')
        : '<tr><td colspan="5" class="m">real video: no fake segments</td></tr>';
      $('truthtable').tBodies[0].addEventListener('click', (e) => { const tr = e.target.closest('tr[data-t]'); if (tr) seek(Number(tr.dataset.t)); });
    }
  }

  video.addEventListener('error', () => {
    $('video-note').textContent = `The browser cannot play ${D.video.src.startsWith('data:') ? 'the embedded video' : D.video.src} ` +
      '(file moved, or a codec it does not support); the timeline still works.';
  });
  if (D.video.src) video.src = D.video.src;
  else $('video-note').textContent = 'Video not available next to this page.';
  header();
  renderTable();
  renderCrops();
  draw();
  new ResizeObserver(() => draw()).observe(canvas);
  window.avforgeReport = { seek, select, setView, state: S, segments: segs, readyMs: performance.now(),
    bandCenter(i) {  // client coordinates of segment i's band (for tests and automation)
      const b = band(segs[i]), r = canvas.getBoundingClientRect();
      return b && { x: r.left + b.x + b.w / 2, y: r.top + b.y + Math.min(3, b.h / 2) };  // just under its top
    } };
})();
