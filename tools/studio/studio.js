// VibeVoice studio page: talks to the JSON API of `vibevoice studio`
// (docs/STUDIO.md). No libraries: fetch() streams the WAV of a job, Web Audio
// plays each chunk as it arrives, a canvas draws the waveform.
'use strict';

const $ = (id) => document.getElementById(id);
const RATE = 24000;
const HEADER = 44;

// What the browser test reads (tests/studio/test-browser.py).
const stats = window.studioStats = {
  jobId: null, tGenerate: 0, tFirstAudio: 0, tStreamEnd: 0, bytes: 0, chunks: 0,
  bytesAtFirstAudio: 0, stateAtFirstAudio: null, state: null, serverFirstAudioMs: null, pipelineFirstFrameMs: null,
};

let voices = [];
let job = null;          // {id, abort, pcm: [Int16Array], ...}
let audioCtx = null;
let playAt = 0;

function api(path, options) {
  return fetch(path, options).then(async (r) => {
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) {
      const e = new Error(body.error || `HTTP ${r.status}`);
      e.body = body;
      throw e;
    }
    return body;
  });
}

function voiceSelect(selected) {
  const s = document.createElement('select');
  for (const v of voices) {
    const o = document.createElement('option');
    o.value = v.name;
    o.textContent = v.name + (v.uploaded ? ' (uploaded)' : '');
    if (v.name === selected) o.selected = true;
    s.appendChild(o);
  }
  return s;
}

function speakerRow(i) {
  const d = document.createElement('div');
  d.className = 'speaker';
  d.innerHTML = `<label><input type="checkbox" class="on" ${i < 2 ? 'checked' : ''}> </label>
    <input type="text" class="name" value="${i + 1}" maxlength="64" aria-label="speaker name">
    <span class="voice"></span>
    <div class="emotions"></div>
    <button type="button" class="add-emotion">+ emotion variant</button>`;
  d.querySelector('.voice').appendChild(voiceSelect(voices.length ? voices[i % voices.length].name : ''));
  d.querySelector('.add-emotion').onclick = () => {
    const e = document.createElement('div');
    e.className = 'emotion';
    e.innerHTML = '<input type="text" class="emotion-name" placeholder="emotion" size="8"> → ';
    e.appendChild(voiceSelect(''));
    d.querySelector('.emotions').appendChild(e);
  };
  return d;
}

function renderSpeakers() {
  const keep = [...document.querySelectorAll('.speaker')].map((d) => ({
    on: d.querySelector('.on').checked, name: d.querySelector('.name').value,
    voice: d.querySelector('.voice select').value,
  }));
  const box = $('speakers');
  box.textContent = '';
  for (let i = 0; i < 4; i++) {
    const row = speakerRow(i);
    if (keep[i]) {
      row.querySelector('.on').checked = keep[i].on;
      row.querySelector('.name').value = keep[i].name;
      row.querySelector('.voice select').value = keep[i].voice;
    }
    box.appendChild(row);
  }
}

async function loadInfo() {
  const info = await api('/api/info');
  voices = info.voices;
  $('info').textContent = `model ${info.model} on ${info.device} · ${voices.length} voices · ` +
    `${info.limits.jobs} job(s) at a time, queue ${info.limits.queue}`;
  renderSpeakers();
}

function insertAtCursor(text) {
  const t = $('script');
  const a = t.selectionStart, b = t.selectionEnd;
  t.value = t.value.slice(0, a) + text + t.value.slice(b);
  t.selectionStart = t.selectionEnd = a + text.length;
  t.focus();
}

for (const b of document.querySelectorAll('[data-insert]')) {
  b.onclick = () => {
    const what = b.dataset.insert;
    if (what === 'speaker') {
      const names = [...document.querySelectorAll('.speaker')]
        .filter((d) => d.querySelector('.on').checked).map((d) => d.querySelector('.name').value);
      const t = $('script');
      const before = t.value.slice(0, t.selectionStart);
      const n = (before.match(/^\S[^:\n]*:/gm) || []).length;
      const name = names.length ? names[n % names.length] : '1';
      const label = /^\d+$/.test(name) ? `Speaker ${name}` : name;
      insertAtCursor((before && !before.endsWith('\n') ? '\n' : '') + `${label}: `);
    } else if (what === 'emotion') {
      insertAtCursor(`[Emotion:${$('emotion-name').value || 'Neutral'}] `);
    } else {
      insertAtCursor((what.startsWith('[pause') || what.startsWith('[Pause')) ? `\n${what}\n` : what);
    }
  };
}

function request() {
  const speakers = [];
  for (const d of document.querySelectorAll('.speaker')) {
    if (!d.querySelector('.on').checked) continue;
    const emotions = {};
    for (const e of d.querySelectorAll('.emotion')) {
      const n = e.querySelector('.emotion-name').value.trim();
      if (n) emotions[n] = e.querySelector('select').value;
    }
    speakers.push({ name: d.querySelector('.name').value.trim(),
      voice: d.querySelector('.voice select').value, emotions });
  }
  return {
    script: $('script').value, speakers, steps: parseInt($('steps').value, 10),
    cfg: parseFloat($('cfg').value), seed: parseInt($('seed').value, 10),
    max_turns: $('per-line').checked ? 1 : 0,
  };
}

function showError(e) {
  const box = $('script-error');
  const b = e.body || {};
  box.textContent = (b.field ? `${b.field}: ` : '') + (b.error || e.message);
  if (b.field === 'script' && b.line) box.textContent += `  (line ${b.line} of the script)`;
  box.hidden = false;
  if (b.field === 'script' && b.line) selectLine(b.line);
}

function selectLine(line) {
  const t = $('script');
  const lines = t.value.split('\n');
  let a = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) a += lines[i].length + 1;
  t.focus();
  t.setSelectionRange(a, a + (lines[line - 1] || '').length);
}

function playChunk(samples) {
  if (!audioCtx || samples.length === 0) return;
  const buf = audioCtx.createBuffer(1, samples.length, RATE);
  const ch = buf.getChannelData(0);
  for (let i = 0; i < samples.length; i++) ch[i] = samples[i] / 32768;
  const src = audioCtx.createBufferSource();
  src.buffer = buf;
  src.connect(audioCtx.destination);
  playAt = Math.max(playAt, audioCtx.currentTime + 0.05);
  src.start(playAt);
  playAt += buf.duration;
}

// Reads the chunked WAV: the first 44 bytes are the header, then S16LE
// samples; a chunk may split a sample, so an odd byte is carried over.
async function stream(j) {
  const r = await fetch(j.audio_url, { signal: j.abort.signal });
  if (!r.ok) throw new Error(`audio stream: HTTP ${r.status}`);
  const reader = r.body.getReader();
  let skip = HEADER;
  let carry = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    let bytes = value;
    stats.bytes += bytes.length;
    if (skip > 0) {
      const n = Math.min(skip, bytes.length);
      skip -= n;
      bytes = bytes.subarray(n);
    }
    if (bytes.length === 0) continue;
    if (carry) {
      const b = new Uint8Array(carry.length + bytes.length);
      b.set(carry);
      b.set(bytes, carry.length);
      bytes = b;
      carry = null;
    }
    if (bytes.length % 2) {
      carry = bytes.slice(bytes.length - 1);
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const samples = new Int16Array(bytes.slice().buffer);
    if (!stats.tFirstAudio) {
      stats.tFirstAudio = performance.now();
      stats.bytesAtFirstAudio = stats.bytes;
      // is the job still generating while we already have audio?
      api(`/api/jobs/${j.id}`).then((s) => { stats.stateAtFirstAudio = s.state; })
        .catch(() => {});
    }
    stats.chunks++;
    j.pcm.push(samples);
    j.samples += samples.length;
    playChunk(samples);
    drawWaveform(j);
  }
  stats.tStreamEnd = performance.now();
}

function drawWaveform(j) {
  const c = $('waveform');
  const g = c.getContext('2d');
  const w = c.width, h = c.height;
  g.fillStyle = '#10202f';
  g.fillRect(0, 0, w, h);
  const total = Math.max(j.samples, 1);
  const per = Math.max(1, Math.ceil(total / w));
  const mins = new Float32Array(w).fill(0), maxs = new Float32Array(w).fill(0);
  let pos = 0;
  for (const chunk of j.pcm) {
    for (let i = 0; i < chunk.length; i++, pos++) {
      const x = Math.min(w - 1, Math.floor(pos / per));
      const v = chunk[i] / 32768;
      if (v < mins[x]) mins[x] = v;
      if (v > maxs[x]) maxs[x] = v;
    }
  }
  g.strokeStyle = '#5fd3a0';
  g.beginPath();
  for (let x = 0; x < w; x++) {
    g.moveTo(x + 0.5, h / 2 - maxs[x] * h / 2);
    g.lineTo(x + 0.5, h / 2 - mins[x] * h / 2 + 1);
  }
  g.stroke();
  // a time axis every second, and the length
  g.fillStyle = 'rgba(255,255,255,0.35)';
  for (let s = 1; s * RATE < total; s++) g.fillRect(Math.floor(s * RATE / per), h - 8, 1, 8);
  const label = `${(total / RATE).toFixed(2)} s`;
  g.font = '12px sans-serif';
  g.fillStyle = 'rgba(16,32,47,0.8)';
  g.fillRect(2, 2, g.measureText(label).width + 8, 16);
  g.fillStyle = '#dde';
  g.fillText(label, 6, 14);
}

function renderJob(s) {
  stats.state = s.state;
  stats.serverFirstAudioMs = s.first_audio_ms;
  if (s.utterances.length) stats.pipelineFirstFrameMs = s.utterances[0].first_frame_latency_ms;
  $('progress').value = s.progress;
  let text = s.state;
  if (s.state === 'queued') text += ` — position ${s.position} in the queue`;
  if (s.error) text += ` — ${s.error}`;
  $('state').textContent = text;
  const parts = [`${s.audio_seconds.toFixed(2)} s of audio`, `${s.frames} frames`,
    `progress ${(100 * s.progress).toFixed(0)} %`];
  if (stats.tFirstAudio) parts.push(`first audio in the browser ${(stats.tFirstAudio - stats.tGenerate).toFixed(0)} ms`);
  if (s.first_audio_ms != null) parts.push(`at the server ${s.first_audio_ms.toFixed(0)} ms after start`);
  if (s.queued_ms != null) parts.push(`queued ${s.queued_ms.toFixed(0)} ms`);
  $('stats').textContent = parts.join(' · ');
  const body = $('utterances').querySelector('tbody');
  body.textContent = '';
  for (const u of s.utterances) {
    const tr = document.createElement('tr');
    for (const v of [u.index, u.frames, u.audio_seconds.toFixed(2), u.real_time_factor.toFixed(3),
      u.first_frame_latency_ms.toFixed(1), u.stop_reason]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

async function poll(j) {
  while (job === j) {
    let s;
    try {
      s = await api(`/api/jobs/${j.id}`);
    } catch (e) {
      $('state').textContent = e.message;
      break;
    }
    renderJob(s);
    if (['done', 'failed', 'stopped'].includes(s.state)) {
      finish(j, s);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function finish(j, s) {
  $('generate').disabled = false;
  $('stop').disabled = true;
  if (s.state === 'done' || s.state === 'stopped') {
    const a = $('download');
    a.href = s.wav_url;
    a.download = `studio-${j.id}.wav`;
    a.hidden = false;
  }
  if (s.state === 'failed') showError({ body: { error: s.error } });
}

async function generate() {
  $('script-error').hidden = true;
  $('download').hidden = true;
  Object.assign(stats, { jobId: null, tGenerate: performance.now(), tFirstAudio: 0, tStreamEnd: 0,
    bytes: 0, chunks: 0, bytesAtFirstAudio: 0, stateAtFirstAudio: null, state: null,
    serverFirstAudioMs: null, pipelineFirstFrameMs: null });
  if (!audioCtx) {
    try {
      audioCtx = new AudioContext();
    } catch (e) {
      audioCtx = null;   // no audio output: still stream, draw and download
    }
  }
  if (audioCtx && audioCtx.state === 'suspended') audioCtx.resume();
  playAt = 0;
  let s;
  try {
    s = await api('/api/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(request()) });
  } catch (e) {
    showError(e);
    return;
  }
  const j = { id: s.id, audio_url: s.audio_url, abort: new AbortController(), pcm: [], samples: 0 };
  job = j;
  stats.jobId = s.id;
  $('generate').disabled = true;
  $('stop').disabled = false;
  renderJob(s);
  stream(j).catch((e) => { if (e.name !== 'AbortError') $('state').textContent = e.message; })
    .finally(() => drawWaveform(j));
  poll(j);
}

async function stop() {
  if (!job) return;
  const j = job;
  try {
    const s = await api(`/api/jobs/${j.id}/stop`, { method: 'POST' });
    renderJob(s);
  } catch (e) {
    $('state').textContent = e.message;
  }
}

async function upload() {
  const f = $('upload-file').files[0];
  const name = $('upload-name').value.trim() || (f ? f.name.replace(/\.[^.]*$/, '') : '');
  if (!f) {
    $('upload-status').textContent = 'choose a file first';
    return;
  }
  $('upload-status').textContent = 'uploading…';
  try {
    const r = await api(`/api/voices?name=${encodeURIComponent(name)}`, { method: 'POST', body: f });
    $('upload-status').textContent = `added ${r.name} (${r.seconds.toFixed(1)} s)`;
    await loadInfo();
  } catch (e) {
    $('upload-status').textContent = e.message;
  }
}

$('generate').onclick = generate;
$('stop').onclick = stop;
$('upload-button').onclick = upload;
loadInfo().catch((e) => { $('info').textContent = `cannot reach the server: ${e.message}`; });
