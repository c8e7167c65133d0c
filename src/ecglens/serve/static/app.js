// The ecglens web page: upload a record (or pick a demo record), see its beats on a strip
// coloured by class, click a beat to see its Grad-CAM, filter the beat table, download the
// JSON and the HTML report. Plain JavaScript, no dependencies; every server string is shown
// through textContent, never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const FALLBACK_COLORS = {
    N: "#6b8f71", S: "#f28e2b", V: "#d62728", F: "#8e44ad", Q: "#2f7fc1",
    MI: "#d62728", normal: "#6b8f71",
  };
  const MAX_ROWS = 1000; // rows drawn in the beat table at once
  const SIGNAL_CHUNK = 2000000; // samples per /signal request

  const state = {
    models: [],
    model: null, // the model entry of /models that made the result
    resultId: null,
    json: null,
    signal: null, // Float32Array of the classified lead (mV)
    fs: 0,
    beats: [], // {i, sample, t, label, p, u, review, artifact, byRhythm, cluster}
    filtered: [],
    view: { t0: 0, span: 10 },
    selected: -1,
    yRange: [-1, 1],
    envelope: null, // overview min/max per column
    explainToken: 0,
  };

  // -- helpers ------------------------------------------------------------------------------

  function color(label) {
    const colors = (state.model && state.model.colors) || {};
    return colors[label] || FALLBACK_COLORS[label] || "#17becf";
  }

  async function api(path, options) {
    const response = await fetch(path, options);
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        const body = await response.json();
        if (body && body.error) message = body.error;
      } catch (err) {
        // not JSON: keep the status line
      }
      throw new Error(message);
    }
    return response;
  }

  function setStatus(text) {
    $("status").textContent = text || "";
  }

  function showError(text) {
    const el = $("error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function setBusy(busy, text) {
    $("run").disabled = busy;
    setStatus(text || "");
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function fmtTime(seconds) {
    const m = Math.floor(seconds / 60);
    const s = seconds - 60 * m;
    return m > 0 ? `${m}:${s.toFixed(2).padStart(5, "0")}` : `${s.toFixed(2)} s`;
  }

  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function safeName(text) {
    return String(text || "record").replace(/[^A-Za-z0-9._-]+/g, "_");
  }

  // -- start --------------------------------------------------------------------------------

  async function init() {
    try {
      const [models, demo] = await Promise.all([
        api("/models").then((r) => r.json()),
        api("/demo").then((r) => r.json()),
      ]);
      state.models = models.models;
      for (const m of models.models) {
        $("model").appendChild(new Option(`${m.name} (${m.description})`, m.name));
      }
      for (const d of demo.records) {
        const minutes = (d.duration_s / 60).toFixed(1);
        $("demo").appendChild(new Option(`${d.name} (${minutes} min, ${d.leads.join(", ")})`, d.name));
      }
      if (!demo.records.length) $("demo").disabled = true;
    } catch (err) {
      showError(`cannot reach the server: ${err.message}`);
    }
    $("upload-form").addEventListener("submit", classify);
    $("files").addEventListener("change", () => {
      if ($("files").files.length) $("demo").value = "";
    });
    $("demo").addEventListener("change", () => {
      if ($("demo").value) $("files").value = "";
    });
    $("download-json").addEventListener("click", downloadJson);
    $("download-report").addEventListener("click", downloadReport);
    $("zoom-in").addEventListener("click", () => zoom(0.5));
    $("zoom-out").addEventListener("click", () => zoom(2));
    $("back").addEventListener("click", () => pan(-0.8));
    $("forward").addEventListener("click", () => pan(0.8));
    $("span").addEventListener("change", () => {
      const span = Number($("span").value) || duration();
      setView(state.view.t0 + state.view.span / 2 - span / 2, span);
    });
    $("filter-class").addEventListener("change", renderTable);
    $("filter-review").addEventListener("change", renderTable);
    $("filter-artifact").addEventListener("change", renderTable);
    $("paper-method").addEventListener("change", explainPaper);
    wireStrip();
    window.addEventListener("resize", () => {
      state.envelope = null;
      draw();
    });
  }

  // -- classify -----------------------------------------------------------------------------

  async function classify(event) {
    event.preventDefault();
    showError("");
    const form = new FormData();
    const files = $("files").files;
    const demo = $("demo").value;
    let url = "/predict?keep=true";
    if (files.length) {
      for (const file of files) form.append("files", file, file.name);
    } else if (demo) {
      url += `&demo=${encodeURIComponent(demo)}`;
    } else {
      showError("choose the files of a record, or a demo record");
      return;
    }
    const fields = [["model", "model"], ["fs", "fs"], ["lead", "lead"], ["review", "review_threshold"]];
    for (const [id, name] of fields) {
      const value = $(id).value.trim();
      if (value) form.append(name, value);
    }
    setBusy(true, "Classifying...");
    const started = performance.now();
    try {
      const response = await api(url, { method: "POST", body: form });
      state.resultId = response.headers.get("X-Ecglens-Result");
      state.json = await response.json();
      await show(state.json);
      setStatus(`Classified in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    } catch (err) {
      showError(err.message);
      setStatus("");
    } finally {
      $("run").disabled = false;
    }
  }

  async function show(json) {
    state.model = state.models.find((m) => m.name === json.model) || null;
    state.selected = -1;
    state.signal = null;
    state.envelope = null;
    for (const id of ["strip-panel", "beat-panel", "paper-panel", "table-panel", "image-panel"]) $(id).hidden = true;
    $("summary").hidden = false;
    $("record-title").textContent = `${json.task === "images" ? "Printout" : "Record"} ${json.record}`;
    $("record-meta").textContent = summaryText(json);
    showRecordingSummary(json.summary);
    const warnings = $("warnings");
    warnings.replaceChildren(...(json.warnings || []).map((w) => el("li", w)));
    showCard();
    const beats = Array.isArray(json.beats) ? json.beats : [];
    if (json.task === "images") {
      state.beats = [];
      $("counts").replaceChildren();
      showImage(json);
    } else if (beats.length && beats[0].sample !== undefined) {
      state.beats = beats.map((b, i) => beatRow(b, i, json));
      showCounts(json);
      setupFilters();
      state.fs = json.sampling_rate;
      await loadSignal();
      $("strip-panel").hidden = false;
      $("table-panel").hidden = false;
      const span = Math.min(10, duration());
      $("span").value = "10";
      setView(0, span);
      renderTable();
      showRhythmBand(json.summary);
      $("strip").dataset.ready = "1";
    } else if (json.leads && json.task) {
      state.beats = [];
      $("counts").replaceChildren();
      showPaper(json);
    } else {
      state.beats = beats.map((b, i) => beatRow(b, i, json));
      showCounts(json);
      setupFilters();
      $("table-panel").hidden = false;
      renderTable();
    }
  }

  function summaryText(json) {
    const parts = [`model ${json.model}`];
    if (json.lead) parts.push(`lead ${json.lead}`);
    if (json.sampling_rate) parts.push(`${json.sampling_rate} Hz`);
    if (json.n_beats !== undefined) parts.push(`${json.n_beats} beats`);
    if (json.n_review !== undefined && json.n_review !== null) {
      parts.push(`${json.n_review} flagged for review (uncertainty > ${json.review_threshold})`);
    }
    if (json.n_artifact) parts.push(`${json.n_artifact} in unusable stretches (not counted)`);
    if (json.n_by_rhythm_rule) {
      parts.push(`${json.n_by_rhythm_rule} S by the rhythm rule (premature against the sinus cycle)`);
    }
    if (json.signal_quality && json.signal_quality.usable_fraction !== undefined) {
      parts.push(`${(100 * json.signal_quality.usable_fraction).toFixed(1)}% of the lead usable`);
    }
    if (json.label !== undefined) {
      const p = json.probability !== undefined ? ` (P = ${Number(json.probability).toFixed(3)}, threshold ${Number(json.threshold).toFixed(3)})` : "";
      parts.push(`record: ${json.label}${p}`);
    }
    return parts.join(" · ");
  }

  function beatRow(b, i, json) {
    let label = b.label;
    let p = null;
    if (b.probabilities) {
      p = b.probabilities[label];
    } else if (b.probability !== undefined) {
      label = b.probability >= json.threshold ? "MI" : "normal";
      p = label === "MI" ? b.probability : 1 - b.probability;
    }
    return {
      i,
      sample: b.sample,
      t: b.time_s !== undefined ? b.time_s : b.row,
      label,
      p,
      u: b.uncertainty,
      review: Boolean(b.review),
      artifact: Boolean(b.artifact),
      byRhythm: Boolean(b.by_rhythm_rule),
      byCluster: Boolean(b.by_cluster_vote),
      cluster: b.cluster, // the beat's shape cluster in the record (undefined without)
      reference: b.reference, // the uploaded .atr's class (undefined without one)
    };
  }

  function classCounts(json) {
    if (json.class_counts) return json.class_counts;
    const counts = {};
    for (const b of state.beats) counts[b.label] = (counts[b.label] || 0) + 1;
    return counts;
  }

  function showCounts(json) {
    const chips = [];
    for (const [name, n] of Object.entries(classCounts(json))) {
      const chip = el("button", null, "chip");
      chip.type = "button";
      chip.dataset.cls = name;
      const swatch = el("span", null, "swatch");
      swatch.style.background = color(name);
      chip.append(swatch, el("span", name), el("span", n, "n"));
      chip.addEventListener("click", () => {
        $("filter-class").value = $("filter-class").value === name ? "" : name;
        $("filter-review").checked = false;
        renderTable();
      });
      chips.push(chip);
    }
    const flagged = state.beats.filter((b) => b.review).length;
    if (json.n_review !== undefined && json.n_review !== null) {
      const chip = el("button", null, "chip");
      chip.type = "button";
      const swatch = el("span", null, "swatch");
      swatch.style.background = "#b42318";
      chip.append(swatch, el("span", "flagged"), el("span", flagged, "n"));
      chip.addEventListener("click", () => {
        $("filter-review").checked = !$("filter-review").checked;
        renderTable();
      });
      chips.push(chip);
    }
    $("counts").replaceChildren(...chips);
    const legend = Object.keys(classCounts(json)).map((name) => {
      const item = el("span");
      const swatch = el("span", null, "swatch");
      swatch.style.background = color(name);
      item.append(swatch, document.createTextNode(name));
      return item;
    });
    legend.push(el("span", "! flagged for review   × artifact (unusable stretch)"));
    $("legend").replaceChildren(...legend);
  }

  function setupFilters() {
    const select = $("filter-class");
    const current = select.value;
    select.replaceChildren(new Option("all", ""));
    const labels = [...new Set(state.beats.map((b) => b.label))];
    const order = ["N", "S", "V", "F", "Q"];
    labels.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b));
    for (const label of labels) select.appendChild(new Option(label, label));
    select.value = labels.includes(current) ? current : "";
  }

  function showCard() {
    const card = state.model && state.model.card;
    $("card-panel").hidden = !card;
    $("card-title").textContent = `Model card: ${state.model ? state.model.name : ""}`;
    $("card").textContent = card || "";
  }

  async function loadSignal() {
    if (!state.resultId) return;
    const chunks = [];
    let start = 0;
    let total = Infinity;
    while (start < total) {
      const stop = start + SIGNAL_CHUNK;
      const response = await api(`/results/${state.resultId}/signal?start=${start}&stop=${stop}`);
      total = Number(response.headers.get("X-Total-Samples"));
      const chunk = new Float32Array(await response.arrayBuffer());
      if (!chunk.length) break;
      chunks.push(chunk);
      start += chunk.length;
    }
    const signal = new Float32Array(start);
    let at = 0;
    for (const chunk of chunks) {
      signal.set(chunk, at);
      at += chunk.length;
    }
    state.signal = signal;
    state.yRange = robustRange(signal);
  }

  function robustRange(signal) {
    const step = Math.max(1, Math.floor(signal.length / 200000));
    const sample = [];
    for (let i = 0; i < signal.length; i += step) if (Number.isFinite(signal[i])) sample.push(signal[i]);
    if (!sample.length) return [-1, 1];
    sample.sort((a, b) => a - b);
    const lo = sample[Math.floor(0.001 * (sample.length - 1))];
    const hi = sample[Math.ceil(0.999 * (sample.length - 1))];
    const pad = Math.max(0.1, 0.08 * (hi - lo));
    return [lo - pad, hi + pad];
  }

  // -- the strip ----------------------------------------------------------------------------

  function duration() {
    return state.signal && state.fs ? state.signal.length / state.fs : 10;
  }

  function setView(t0, span) {
    const total = duration();
    span = Math.min(Math.max(span, 0.5), total);
    t0 = Math.min(Math.max(t0, 0), Math.max(0, total - span));
    state.view = { t0, span };
    $("window-label").textContent = `${fmtTime(t0)} - ${fmtTime(t0 + span)} of ${fmtTime(total)}`;
    draw();
  }

  function zoom(factor, centreFraction = 0.5) {
    const { t0, span } = state.view;
    const centre = t0 + centreFraction * span;
    const next = span * factor;
    setView(centre - centreFraction * next, next);
  }

  function pan(fraction) {
    setView(state.view.t0 + fraction * state.view.span, state.view.span);
  }

  function sizeCanvas(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx, width, height };
  }

  function niceStep(span, target) {
    const raw = span / target;
    const steps = [0.04, 0.2, 1, 2, 5, 10, 30, 60, 120, 300, 600];
    return steps.find((s) => s >= raw) || 1200;
  }

  function firstBeatAtOrAfter(t) {
    let lo = 0;
    let hi = state.beats.length;
    const sample = t * state.fs;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (state.beats[mid].sample < sample) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  const PAD = { top: 24, bottom: 20 };

  function draw() {
    if (!state.signal || $("strip-panel").hidden) return;
    drawStrip();
    drawOverview();
  }

  function drawStrip() {
    const { ctx, width, height } = sizeCanvas($("strip"));
    const { t0, span } = state.view;
    const [ymin, ymax] = state.yRange;
    const plotH = height - PAD.top - PAD.bottom;
    const x = (t) => ((t - t0) / span) * width;
    const y = (v) => PAD.top + ((ymax - v) / (ymax - ymin)) * plotH;
    ctx.clearRect(0, 0, width, height);
    // ECG-paper grid: 0.2 s / 0.5 mV (and 0.04 s / 0.1 mV when zoomed in)
    const fine = span <= 12;
    const gridLines = (step, style) => {
      ctx.strokeStyle = style;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let t = Math.ceil(t0 / step) * step; t <= t0 + span; t += step) {
        const px = Math.round(x(t)) + 0.5;
        ctx.moveTo(px, PAD.top);
        ctx.lineTo(px, height - PAD.bottom);
      }
      const mv = step === 0.04 ? 0.1 : 0.5;
      for (let v = Math.ceil(ymin / mv) * mv; v <= ymax; v += mv) {
        const py = Math.round(y(v)) + 0.5;
        ctx.moveTo(0, py);
        ctx.lineTo(width, py);
      }
      ctx.stroke();
    };
    if (fine) gridLines(0.04, "#fbdede");
    gridLines(fine ? 0.2 : niceStep(span, 25), "#f2a7a7");
    // the signal: min/max per pixel column when there are more samples than pixels
    const sig = state.signal;
    const fs = state.fs;
    const i0 = Math.max(0, Math.floor(t0 * fs));
    const i1 = Math.min(sig.length, Math.ceil((t0 + span) * fs) + 1);
    ctx.strokeStyle = "#1f2328";
    ctx.lineWidth = 1.1;
    ctx.beginPath();
    const perPixel = (i1 - i0) / width;
    if (perPixel > 6) {
      for (let px = 0; px < width; px++) {
        const a = i0 + Math.floor(px * perPixel);
        const b = Math.min(i1, i0 + Math.floor((px + 1) * perPixel));
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = a; i < b; i++) {
          const v = sig[i];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        if (lo === Infinity) continue;
        ctx.moveTo(px + 0.5, y(hi));
        ctx.lineTo(px + 0.5, y(lo) + 0.5);
      }
    } else {
      for (let i = i0; i < i1; i++) {
        const px = x(i / fs);
        if (i === i0) ctx.moveTo(px, y(sig[i]));
        else ctx.lineTo(px, y(sig[i]));
      }
    }
    ctx.stroke();
    // beats: a coloured tick and label above each R peak
    const first = firstBeatAtOrAfter(t0);
    const showLabels = span <= 60;
    ctx.textAlign = "center";
    ctx.font = "bold 12px system-ui, sans-serif";
    for (let k = first; k < state.beats.length; k++) {
      const b = state.beats[k];
      const t = b.sample / fs;
      if (t > t0 + span) break;
      const px = x(t);
      const c = color(b.label);
      if (k === state.selected) {
        ctx.fillStyle = "rgba(47, 127, 193, 0.16)";
        const w = Math.max(8, (0.3 / span) * width);
        ctx.fillRect(px - w / 2, PAD.top, w, plotH);
      }
      ctx.fillStyle = c;
      if (showLabels) {
        ctx.globalAlpha = b.artifact ? 0.45 : 1;
        ctx.fillText(b.artifact ? "×" : b.label, px, 15);
        ctx.globalAlpha = 1;
        ctx.fillRect(px - 1, PAD.top, 2, 6);
        if (b.review) {
          ctx.fillStyle = "#b42318";
          ctx.fillText("!", px + 9, 15);
        }
      } else if (b.label !== "N" && b.label !== "normal") {
        ctx.fillRect(px - 1, 4, 2, 14);
      }
    }
    drawReferenceLabels(ctx, x, first, showLabels);
    drawScaleBar(ctx, x, y, t0, ymin, ymax);
    // time axis
    ctx.fillStyle = "#59636e";
    ctx.font = "11px system-ui, sans-serif";
    const step = niceStep(span, 10);
    for (let t = Math.ceil(t0 / step) * step; t <= t0 + span; t += step) {
      ctx.fillText(fmtTime(t), x(t), height - 5);
    }
  }

  function drawReferenceLabels(ctx, x, first, showLabels) {
    // the uploaded .atr's class under each predicted label: grey, red where they differ
    if (!showLabels) return;
    const { t0, span } = state.view;
    ctx.textAlign = "center";
    ctx.font = "italic 10px system-ui, sans-serif";
    for (let k = first; k < state.beats.length; k++) {
      const b = state.beats[k];
      if (b.reference === undefined) return; // no annotations uploaded
      const t = b.sample / state.fs;
      if (t > t0 + span) break;
      const ref = b.reference === null ? "–" : b.reference;
      ctx.fillStyle = b.reference !== null && b.reference !== b.label ? "#b42318" : "#8c959f";
      ctx.fillText(ref, x(t), PAD.top + 16);
    }
  }

  function drawScaleBar(ctx, x, y, t0, ymin, ymax) {
    // a calibration pulse at the left: 1 mV high (0.5 mV on a short axis) and 0.2 s wide
    const mv = ymax - ymin >= 1.4 ? 1 : 0.5;
    const base = ymin + 0.12 * (ymax - ymin);
    const left = 6;
    const width = Math.max(6, Math.min(40, x(t0 + 0.2) - x(t0)));
    ctx.strokeStyle = "#1f2328";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(left, y(base));
    ctx.lineTo(left + 4, y(base));
    ctx.lineTo(left + 4, y(base + mv));
    ctx.lineTo(left + 4 + width, y(base + mv));
    ctx.lineTo(left + 4 + width, y(base));
    ctx.lineTo(left + 8 + width, y(base));
    ctx.stroke();
    ctx.fillStyle = "#1f2328";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "left";
    ctx.fillText(`${mv} mV`, left + 10 + width, y(base + mv / 2) + 4);
    ctx.textAlign = "center";
  }

  function drawOverview() {
    const { ctx, width, height } = sizeCanvas($("overview"));
    const sig = state.signal;
    const [ymin, ymax] = state.yRange;
    if (!state.envelope || state.envelope.width !== width) {
      const lo = new Float32Array(width);
      const hi = new Float32Array(width);
      const per = sig.length / width;
      for (let px = 0; px < width; px++) {
        const a = Math.floor(px * per);
        const b = Math.max(a + 1, Math.floor((px + 1) * per));
        let mn = Infinity;
        let mx = -Infinity;
        for (let i = a; i < b && i < sig.length; i += 1) {
          const v = sig[i];
          if (v < mn) mn = v;
          if (v > mx) mx = v;
        }
        lo[px] = mn;
        hi[px] = mx;
      }
      state.envelope = { width, lo, hi };
    }
    const y = (v) => 14 + ((ymax - Math.min(Math.max(v, ymin), ymax)) / (ymax - ymin)) * (height - 16);
    ctx.clearRect(0, 0, width, height);
    ctx.strokeStyle = "#8c959f";
    ctx.beginPath();
    for (let px = 0; px < width; px++) {
      ctx.moveTo(px + 0.5, y(state.envelope.hi[px]));
      ctx.lineTo(px + 0.5, y(state.envelope.lo[px]) + 0.5);
    }
    ctx.stroke();
    const total = duration();
    for (const b of state.beats) {
      if (b.label === "N" || b.label === "normal") continue;
      ctx.fillStyle = color(b.label);
      ctx.fillRect((b.sample / state.fs / total) * width, 1, 1.5, 11);
    }
    const { t0, span } = state.view;
    ctx.strokeStyle = "#2f7fc1";
    ctx.lineWidth = 2;
    ctx.strokeRect((t0 / total) * width + 1, 1, Math.max(3, (span / total) * width - 2), height - 2);
  }

  function beatX(index) {
    // canvas x (CSS pixels) of beat `index`, or null when it is outside the window
    const b = state.beats[index];
    if (!b || !state.fs) return null;
    const t = b.sample / state.fs;
    const { t0, span } = state.view;
    if (t < t0 || t > t0 + span) return null;
    return ((t - t0) / span) * $("strip").clientWidth;
  }

  function wireStrip() {
    const canvas = $("strip");
    let drag = null;
    canvas.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, t0: state.view.t0, moved: false };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.x;
      if (Math.abs(dx) > 4) drag.moved = true;
      if (drag.moved) {
        canvas.classList.add("dragging");
        setView(drag.t0 - (dx / canvas.clientWidth) * state.view.span, state.view.span);
      }
    });
    canvas.addEventListener("pointerup", (event) => {
      const wasClick = drag && !drag.moved;
      drag = null;
      canvas.classList.remove("dragging");
      if (wasClick) clickStrip(event);
    });
    canvas.addEventListener("wheel", (event) => {
      if (!state.signal) return;
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      if (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
        pan((event.deltaX || event.deltaY) / 500);
      } else {
        zoom(Math.exp(event.deltaY * 0.0015), (event.clientX - rect.left) / rect.width);
      }
    }, { passive: false });
    canvas.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        stepBeat(event.key === "ArrowRight" ? 1 : -1);
      } else if (event.key === "+" || event.key === "=") {
        zoom(0.5);
      } else if (event.key === "-") {
        zoom(2);
      }
    });
    const overview = $("overview");
    let moving = false;
    const jump = (event) => {
      const rect = overview.getBoundingClientRect();
      const t = ((event.clientX - rect.left) / rect.width) * duration();
      setView(t - state.view.span / 2, state.view.span);
    };
    overview.addEventListener("pointerdown", (event) => {
      moving = true;
      overview.setPointerCapture(event.pointerId);
      jump(event);
    });
    overview.addEventListener("pointermove", (event) => moving && jump(event));
    overview.addEventListener("pointerup", () => {
      moving = false;
    });
  }

  function clickStrip(event) {
    const rect = $("strip").getBoundingClientRect();
    const px = event.clientX - rect.left;
    const t = state.view.t0 + (px / rect.width) * state.view.span;
    const k = firstBeatAtOrAfter(t);
    let best = -1;
    let bestDist = 14; // pixels
    for (const j of [k - 1, k]) {
      const x = beatX(j);
      if (x !== null && Math.abs(x - px) < bestDist) {
        best = j;
        bestDist = Math.abs(x - px);
      }
    }
    if (best >= 0) selectBeat(best, false);
  }

  function stepBeat(direction) {
    const list = state.filtered.length ? state.filtered : state.beats;
    if (!list.length) return;
    let at = list.findIndex((b) => b.i === state.selected);
    if (at < 0) {
      const t = state.view.t0 + state.view.span / 2;
      at = list.findIndex((b) => b.sample / state.fs >= t) - (direction > 0 ? 1 : 0);
    }
    const next = list[Math.min(Math.max(at + direction, 0), list.length - 1)];
    selectBeat(next.i, true);
  }

  // -- a beat and its explanation -----------------------------------------------------------

  async function selectBeat(index, centre) {
    state.selected = index;
    const b = state.beats[index];
    if (state.signal && (centre || beatX(index) === null)) {
      setView(b.sample / state.fs - state.view.span / 2, state.view.span);
    } else {
      draw();
    }
    highlightRow();
    const panel = $("beat-panel");
    panel.hidden = false;
    panel.dataset.beat = String(index);
    panel.dataset.ready = "0";
    $("beat-title").textContent = `Beat ${index} at ${fmtTime(b.t)}: ${b.label}`;
    $("beat-flags").textContent = "Explaining...";
    const token = ++state.explainToken;
    const form = new FormData();
    form.append("result", state.resultId);
    form.append("beat", String(index));
    form.append("figure", "png");
    try {
      const response = await api("/explain", { method: "POST", body: form });
      const out = await response.json();
      if (token !== state.explainToken) return;
      showExplanation(out);
    } catch (err) {
      if (token === state.explainToken) $("beat-flags").textContent = `No explanation: ${err.message}`;
    }
  }

  function showExplanation(out) {
    const beat = out.beats[0];
    $("beat-figure").src = `data:${out.figure.media_type};base64,${out.figure.data}`;
    $("beat-figure").alt = `beat ${beat.index}: the waveform with its ${out.method} relevance`;
    showFaithfulness($("beat-figure"), out.faithfulness);
    const rows = Object.entries(beat.probabilities).map(([name, p]) => {
      const tr = el("tr");
      const bar = el("div", null, "bar");
      const fill = el("span");
      fill.style.width = `${(100 * p).toFixed(1)}%`;
      fill.style.background = color(name);
      bar.appendChild(fill);
      const barCell = el("td");
      barCell.appendChild(bar);
      tr.append(el("td", name), barCell, el("td", p.toFixed(3)));
      if (name === beat.label) tr.className = "predicted";
      return tr;
    });
    $("probs").tBodies[0].replaceChildren(...rows);
    const flags = $("beat-flags");
    flags.replaceChildren();
    const parts = [`predicted ${beat.label}`];
    if (beat.uncertainty !== undefined) parts.push(`uncertainty ${beat.uncertainty.toFixed(3)}`);
    flags.append(el("span", parts.join(", ")));
    if (beat.review !== undefined) {
      flags.append(document.createElement("br"));
      flags.append(beat.review ? el("span", "flagged for review", "flag-review") : el("span", "not flagged"));
    }
    if (beat.artifact) {
      flags.append(document.createElement("br"));
      flags.append(el("span", "in an unusable stretch of the lead (artifact): not counted", "flag-review"));
    }
    flags.append(document.createElement("br"));
    flags.append(el("span", `${out.method} for the predicted class; time ${fmtTime(beat.time_s)}, sample ${beat.sample}`));
    $("beat-panel").dataset.ready = "1";
  }

  // How far the map can be trusted on this model (the answer's `faithfulness` field), written
  // right under the figure: red when the explainer was not shown faithful for the model.
  function showFaithfulness(figure, faithfulness) {
    const id = `${figure.id}-faithfulness`;
    let note = document.getElementById(id);
    if (!note) {
      note = el("p", "", "faithfulness");
      note.id = id;
      figure.insertAdjacentElement("afterend", note);
    }
    if (!faithfulness) {
      note.hidden = true;
      return;
    }
    note.hidden = false;
    note.textContent = faithfulness.text;
    note.classList.toggle("flag-review", !faithfulness.shown_faithful);
    note.dataset.shownFaithful = String(faithfulness.shown_faithful);
  }

  // -- 12-lead records ----------------------------------------------------------------------

  function showPaper(json) {
    $("paper-panel").hidden = false;
    const methods = (state.model && state.model.methods) || ["cam"];
    $("paper-method").replaceChildren(...methods.map((m) => new Option(m, m)));
    const parts = [`${json.label}`];
    if (json.probability !== undefined) {
      parts.push(`P(${json.positive || "positive"}) = ${json.probability.toFixed(3)} (threshold ${json.threshold.toFixed(3)})`);
    } else if (json.probabilities) {
      parts.push(Object.entries(json.probabilities).map(([c, p]) => `${c} ${p.toFixed(2)}`).join(", "));
    }
    if (json.notes && json.notes.length) parts.push(json.notes.join("; "));
    $("paper-summary").textContent = parts.join(" · ");
    explainPaper();
  }

  async function explainPaper() {
    if (!state.resultId) return;
    const form = new FormData();
    form.append("result", state.resultId);
    form.append("method", $("paper-method").value);
    form.append("figure", "png");
    const token = ++state.explainToken;
    setStatus("Drawing the 12 leads...");
    try {
      const out = await (await api("/explain", { method: "POST", body: form })).json();
      if (token !== state.explainToken) return;
      $("paper-figure").src = `data:${out.figure.media_type};base64,${out.figure.data}`;
      showFaithfulness($("paper-figure"), out.faithfulness);
      $("paper-panel").dataset.ready = "1";
      setStatus("");
    } catch (err) {
      showError(err.message);
    }
  }

  // -- printout images ----------------------------------------------------------------------

  function uploadedImage() {
    const files = Array.from($("files").files || []);
    return files.find((f) => /\.(png|jpe?g)$/i.test(f.name)) || null;
  }

  function imageSummary(json) {
    const parts = [`${json.label} (P = ${Number(json.probabilities[json.label]).toFixed(3)})`];
    if (json.page_found !== undefined) {
      parts.push(json.correction === "none"
        ? "the image is the printout itself (no correction)"
        : `printout found and straightened (turned ${Number(json.rotation_deg).toFixed(1)}°)`);
    }
    return parts.join(" · ");
  }

  function showImage(json) {
    $("image-panel").hidden = false;
    delete $("image-panel").dataset.ready;
    $("image-title").textContent = "The printout as classified";
    $("image-summary").textContent = imageSummary(json);
    const file = uploadedImage();
    const upload = $("image-upload");
    if (upload.dataset.url) URL.revokeObjectURL(upload.dataset.url);
    if (file) {
      upload.dataset.url = URL.createObjectURL(file);
      upload.src = upload.dataset.url;
      upload.parentElement.hidden = false;
    } else {
      upload.removeAttribute("src");
      upload.parentElement.hidden = true;
    }
    const rows = Object.entries(json.probabilities || {})
      .sort((a, b) => b[1] - a[1])
      .map(([c, p]) => {
        const tr = el("tr", "", c === json.label ? "top" : "");
        tr.append(el("td", c), el("td", Number(p).toFixed(3)));
        return tr;
      });
    $("image-probs").tBodies[0].replaceChildren(...rows);
    explainImage();
  }

  async function explainImage() {
    if (!state.resultId) return;
    const form = new FormData();
    form.append("result", state.resultId);
    form.append("figure", "png");
    const token = ++state.explainToken;
    setStatus("Drawing the Grad-CAM overlay...");
    try {
      const out = await (await api("/explain", { method: "POST", body: form })).json();
      if (token !== state.explainToken) return;
      $("image-figure").src = `data:${out.figure.media_type};base64,${out.figure.data}`;
      $("image-caption").textContent = `as classified, with the ${out.method} map for ${out.label}`;
      $("image-panel").dataset.ready = "1";
      setStatus("");
    } catch (err) {
      showError(err.message);
    }
  }

  // -- the beat table -----------------------------------------------------------------------

  function renderTable() {
    const cls = $("filter-class").value;
    const reviewOnly = $("filter-review").checked;
    const hideArtifacts = $("filter-artifact").checked;
    state.filtered = state.beats.filter(
      (b) => (!cls || b.label === cls) && (!reviewOnly || b.review) && (!hideArtifacts || !b.artifact),
    );
    for (const chip of $("counts").children) chip.classList.toggle("active", chip.dataset.cls === cls && !!cls);
    const rows = state.filtered.slice(0, MAX_ROWS).map((b) => {
      const tr = el("tr");
      tr.dataset.beat = String(b.i);
      const source = b.byRhythm ? " (rhythm)" : b.byCluster ? " (cluster)" : "";
      const clsCell = el("td", `${b.label}${source}`, "cls");
      if (b.cluster !== undefined) clsCell.title = `shape cluster ${b.cluster} of this record`;
      clsCell.style.color = color(b.label);
      tr.append(
        el("td", b.i),
        el("td", typeof b.t === "number" && state.fs ? fmtTime(b.t) : b.t),
        clsCell,
        el("td", b.p === null || b.p === undefined ? "" : b.p.toFixed(3)),
        el("td", b.u === undefined || b.u === null ? "" : b.u.toFixed(3)),
        el("td", b.review ? "!" : ""),
        el("td", b.artifact ? "×" : ""),
      );
      if (b.i === state.selected) tr.className = "selected";
      if (state.signal) tr.addEventListener("click", () => selectBeat(b.i, true));
      return tr;
    });
    $("beats").tBodies[0].replaceChildren(...rows);
    const shown = Math.min(MAX_ROWS, state.filtered.length);
    $("table-count").textContent = shown < state.filtered.length
      ? `showing ${shown} of ${state.filtered.length} matching beats (${state.beats.length} in all)`
      : `${state.filtered.length} of ${state.beats.length} beats`;
  }

  function highlightRow() {
    for (const tr of $("beats").tBodies[0].children) {
      const on = Number(tr.dataset.beat) === state.selected;
      tr.classList.toggle("selected", on);
      if (on) tr.scrollIntoView({ block: "nearest" });
    }
  }

  // -- downloads ----------------------------------------------------------------------------

  function downloadJson() {
    if (!state.json) return;
    const blob = new Blob([JSON.stringify(state.json, null, 1)], { type: "application/json" });
    download(blob, `${safeName(state.json.record)}.json`);
  }

  async function downloadReport() {
    if (!state.resultId) return;
    setStatus("Building the HTML report...");
    try {
      const blob = await (await api(`/results/${state.resultId}/report`)).blob();
      download(blob, `${safeName(state.json.record)}-report.html`);
      setStatus("Report downloaded.");
    } catch (err) {
      showError(err.message);
      setStatus("");
    }
  }

  // -- the recording summary and the rhythm band ---------------------------------------------

  const EPISODE_COLORS = {
    AF: "#d62728", SVT: "#f28e2b", VT: "#8e44ad", bigeminy: "#e377c2", trigeminy: "#bcbd22",
    pause: "#2f7fc1", noise: "#7f7f7f",
  };
  const MAX_EPISODE_BUTTONS = 300; // episodes listed as buttons (the band shows them all)

  function fmtValue(v, unit) {
    return v === null || v === undefined ? "-" : `${Math.round(v)}${unit}`;
  }

  function showRecordingSummary(summary) {
    const box = $("recording-summary");
    box.replaceChildren();
    box.hidden = !summary;
    if (!summary) return;
    const hr = summary.heart_rate || {};
    const hrv = summary.hrv || {};
    const iv = summary.intervals || {};
    const counts = {};
    for (const e of summary.episodes || []) counts[e.type] = (counts[e.type] || 0) + 1;
    const rows = [
      ["Heart rate", `mean ${fmtValue(hr.mean_bpm, "")}, min ${fmtValue(hr.min_bpm, "")}, max ${fmtValue(hr.max_bpm, "")} beats/min`],
      ["HRV", `SDNN ${fmtValue(hrv.sdnn_ms, " ms")}, RMSSD ${fmtValue(hrv.rmssd_ms, " ms")}`],
      ["AF burden", summary.af_burden === null ? "-" : `${(100 * summary.af_burden).toFixed(1)}%`],
      ["Episodes", Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(", ") || "none"],
      ["Intervals", `PR ${fmtValue(iv.pr_ms, " ms")}, QRS ${fmtValue(iv.qrs_ms, " ms")}, QT ${fmtValue(iv.qt_ms, " ms")}, QTc ${fmtValue(iv.qtc_bazett_ms, " ms")} (Bazett)` +
        (iv.axis_deg === null || iv.axis_deg === undefined ? "" : `, axis ${Math.round(iv.axis_deg)}°`)],
    ];
    for (const [what, value] of rows) box.append(el("dt", what), el("dd", value));
  }

  function goToEpisode(e) {
    const span = Math.max(10, Math.min(e.end_s - e.start_s + 4, 60));
    setView(e.start_s - 2, span);
    $("rhythm-band").dataset.episode = `${e.type}@${e.start_s}`;
  }

  function episodeLabel(e) {
    return `${e.type} ${fmtTime(e.start_s)} - ${fmtTime(e.end_s)}`;
  }

  function showRhythmBand(summary) {
    const band = $("rhythm-band");
    const list = $("episode-list");
    band.replaceChildren();
    list.replaceChildren();
    const episodes = (summary && summary.episodes) || [];
    band.hidden = !summary;
    list.hidden = !episodes.length;
    if (!summary) return;
    const total = duration();
    for (const e of episodes) {
      const b = el("button", "", "episode");
      b.type = "button";
      b.style.left = `${(100 * e.start_s) / total}%`;
      b.style.width = `${(100 * Math.max(e.end_s - e.start_s, 0)) / total}%`;
      b.style.background = EPISODE_COLORS[e.type] || "#555";
      b.title = episodeLabel(e);
      b.setAttribute("aria-label", episodeLabel(e));
      b.dataset.type = e.type;
      b.addEventListener("click", () => goToEpisode(e));
      band.append(b);
    }
    for (const e of episodes.slice(0, MAX_EPISODE_BUTTONS)) {
      const b = el("button", episodeLabel(e));
      b.type = "button";
      b.style.borderLeft = `4px solid ${EPISODE_COLORS[e.type] || "#555"}`;
      b.addEventListener("click", () => goToEpisode(e));
      const li = el("li");
      li.append(b);
      list.append(li);
    }
  }

  window.ecglens = { state, beatX, selectBeat, setView };
  document.addEventListener("DOMContentLoaded", init);
})();
