// touchpointd dashboard: open alerts live over /v1/alerts/stream (Server-Sent
// Events read with fetch(), so the bearer token goes in a header), KPIs from
// /v1/kpi, charts as plain SVG. No build step, no dependencies.
//
// Token: open the page as /dashboard/#token=<token> (the fragment never
// reaches the server or its logs); it is kept in sessionStorage for the tab
// and removed from the address bar. A 401 asks for it once.

import { renderTrends, renderFeedback, renderResponsiveness } from './trends.js';

const SVG = 'http://www.w3.org/2000/svg';
const open = new Map();          // alert_id -> alert (the stream's JSON)
const filters = { kind: '', rule: '', territory: '', rep: '', contract_type: '' };
let kpi = null;
let lastId = null;
let kpiTimer = null;
let drill = null;                // { field, value } shown in the side panel

// ---- token ------------------------------------------------------------------
function takeToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem('tp-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('tp-token');
}
let token = takeToken();
function headers(extra = {}) {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}
function askToken() {
  const t = prompt('This dashboard needs its access token (http.dashboard.bearer_token_file):');
  if (t) { token = t.trim(); sessionStorage.setItem('tp-token', token); }
  return !!t;
}

// ---- small helpers ------------------------------------------------------------
const $ = (sel) => document.querySelector(sel);
function el(tag, attrs = {}, ...kids) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'onclick') e.addEventListener('click', v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}
const pct = (x) => (x === null || Number.isNaN(x) ? '–' : `${Math.round(x * 100)}%`);
const days = (s) => `${(s / 86400).toFixed(1)} d`;
const kindOf = (a) => (a.kind || '').replace('ALERT_KIND_', '').toLowerCase();
const statusOf = (a) => (a.status || '').replace('ALERT_STATUS_', '');
const sevOf = (a) => (a.severity || '').replace('SEVERITY_', '');
const ctypeOf = (a) => (a.evidence && a.evidence.contract_type) || '';
const when = (ms) => (ms ? new Date(Number(ms)).toISOString().replace('T', ' ').slice(0, 16) : '');

function passes(a) {
  return (!filters.kind || kindOf(a) === filters.kind) &&
    (!filters.rule || a.rule === filters.rule) &&
    (!filters.territory || (a.territory || '') === filters.territory) &&
    (!filters.rep || (a.repId || '') === filters.rep) &&
    (!filters.contract_type || ctypeOf(a) === filters.contract_type);
}

// ---- charts -------------------------------------------------------------------
// rows: [{ label, value (0..max), text, bad, mark (0..max, a tick), click }]
function bars(svg, rows, max) {
  svg.replaceChildren();
  const W = 600, LW = 120, TW = 210, H = 20, G = 4;
  if (!rows.length) {
    svg.setAttribute('viewBox', `0 0 ${W} 24`);
    svg.append(el('svg:text', { x: 0, y: 16, class: 'empty' }, 'no data yet'));
    return;
  }
  svg.setAttribute('viewBox', `0 0 ${W} ${rows.length * (H + G)}`);
  const bw = W - LW - TW;
  const top = max || Math.max(...rows.map((r) => Math.max(r.value, r.mark || 0)), 1e-9);
  rows.forEach((r, i) => {
    const y = i * (H + G);
    const g = el('svg:g', { class: `bar${r.bad ? ' bad' : ''}${r.click ? ' click' : ''}`,
      'data-label': r.label, 'data-value': String(r.value) });
    if (r.click) g.addEventListener('click', r.click);
    g.append(el('svg:title', {}, `${r.label}: ${r.text}`));
    g.append(el('svg:text', { x: 0, y: y + 14 }, r.label.length > 20 ? `${r.label.slice(0, 19)}…` : r.label));
    g.append(el('svg:rect', { class: 'bg', x: LW, y, width: bw, height: H }));
    g.append(el('svg:rect', { class: 'v', x: LW, y, width: Math.max(0, Math.min(1, r.value / top)) * bw, height: H }));
    if (r.mark) {
      const x = LW + Math.min(1, r.mark / top) * bw;
      g.append(el('svg:line', { class: 'sla', x1: x, x2: x, y1: y - 1, y2: y + H + 1 }));
    }
    g.append(el('svg:text', { x: LW + bw + 6, y: y + 14, class: 'val' }, r.text));
    svg.append(g);
  });
}

const chart = (name) => $(`[data-chart="${name}"] svg`);
const drillTo = (field, value) => () => showDrill(field, value);

function renderKpi() {
  if (!kpi) return;
  const terr = kpi.by_territory.filter((t) => t.submitted > 0);
  bars(chart('completeness'), terr.map((t) => ({ label: t.name, value: t.complete / t.submitted,
    text: `${pct(t.complete / t.submitted)} (${t.complete}/${t.submitted})`,
    click: drillTo('territory', t.name) })).sort((a, b) => a.value - b.value), 1);
  bars(chart('late'), terr.map((t) => ({ label: t.name, value: t.late / t.submitted,
    text: `${pct(t.late / t.submitted)} (${t.late}/${t.submitted})`, bad: t.late > 0,
    click: drillTo('territory', t.name) })).sort((a, b) => b.value - a.value), 1);
  const reps = kpi.by_rep.filter((r) => r.submitted > 0).map((r) => {
    const bad = (r.submitted - r.complete) + r.late;
    return { label: r.name, value: Math.min(1, bad / r.submitted), bad: bad > 0,
      text: `${r.late} late, ${r.submitted - r.complete} incomplete of ${r.submitted}`,
      click: drillTo('rep', r.name) };
  }).sort((a, b) => b.value - a.value).slice(0, 12);
  bars(chart('reps'), reps, 1);
  const c = kpi.calls;
  $('[data-testid="channel-match-overall"]').textContent =
    c.channel_known ? `${pct(c.channel_matched / c.channel_known)} (${c.channel_matched}/${c.channel_known})` : '–';
  bars(chart('channel'), kpi.by_territory.filter((t) => t.channel_known > 0).map((t) => ({
    label: t.name, value: t.channel_matched / t.channel_known,
    text: `${pct(t.channel_matched / t.channel_known)} (${t.channel_matched}/${t.channel_known})`,
    click: drillTo('territory', t.name) })).sort((a, b) => a.value - b.value), 1);
  bars(chart('steps'), kpi.steps.map((s) => ({ label: s.step, value: s.mean_seconds, mark: s.sla_seconds,
    bad: s.mean_seconds > s.sla_seconds,
    text: `${days(s.mean_seconds)} / SLA ${days(s.sla_seconds)}, ${s.over_sla} of ${s.completed} over` }))
    .sort((a, b) => b.value - a.value));
  bars(chart('cycle'), kpi.cycle.filter((t) => t.closed > 0).map((t) => ({ label: t.contract_type,
    value: t.mean_seconds, mark: t.target_seconds, bad: t.mean_seconds > t.target_seconds,
    text: `${days(t.mean_seconds)} / target ${days(t.target_seconds)}, ${t.over_target} of ${t.closed} over` })));
  const fr = Object.entries(kpi.open_alerts.friction_by_step).map(([step, n]) => ({ label: step,
    value: n, text: String(n), bad: true })).sort((a, b) => b.value - a.value);
  bars(chart('friction'), fr);
  const det = kpi.open_alerts.detractors_without_follow_up;
  $('[data-testid="detractors-count"]').textContent = String(det.length);
  $('#detractors').replaceChildren(...det.sort((a, b) => (a.due_at < b.due_at ? -1 : 1)).map((d) =>
    el('li', { 'data-hcp': d.hcp }, el('a', { onclick: drillTo('hcp', d.hcp) }, d.hcp),
      ` — ${d.nps ? `NPS ${d.nps}` : `effort ${d.effort_score}`}, feedback ${d.feedback_at}, due ${d.due_at}`)));
  fillFilter('territory', kpi.by_territory.map((t) => t.name));
  fillFilter('rep', kpi.by_rep.map((r) => r.name));
}

// A GET of the KPI API as JSON; null when refused or failed.
async function fetchJson(url) {
  const r = await fetch(url, { headers: headers() });
  return r.ok ? r.json() : null;
}

async function renderOverTime() {
  renderResponsiveness(kpi, open.values(), bars);
  await renderFeedback(fetchJson, kpi);
  await renderTrends(fetchJson);
  document.body.dataset.kpiRendered = String(Number(document.body.dataset.kpiRendered || 0) + 1);
}

async function loadKpi() {
  const r = await fetch('/v1/kpi', { headers: headers() });
  if (r.status === 401) { if (askToken()) return loadKpi(); return; }
  if (r.ok) { kpi = await r.json(); renderKpi(); await renderOverTime(); }
}
// At most one KPI fetch a second, however fast alerts come (a throttle:
// a debounce would never fire under a steady stream).
function kpiSoon() {
  if (kpiTimer) return;
  kpiTimer = setTimeout(() => { kpiTimer = null; loadKpi().catch(() => {}); }, 1000);
}

// ---- alerts table, filters, feed, drill-down ------------------------------------
function fillFilter(name, values) {
  const sel = $(`select[data-filter="${name}"]`);
  const have = new Set([...sel.options].map((o) => o.value));
  for (const v of [...new Set(values)].sort()) {
    if (v && !have.has(v)) sel.append(el('option', { value: v }, v));
  }
}

function cellLink(field, value) {
  return value ? el('a', { onclick: drillTo(field, value), 'data-drill': field }, value) : '';
}

function renderAlerts(newId) {
  const list = [...open.values()].filter(passes).sort((a, b) => Number(b.sequence) - Number(a.sequence));
  $('#alerts tbody').replaceChildren(...list.slice(0, 500).map((a) => el('tr',
    { 'data-alert-id': a.alertId, class: a.alertId === newId ? 'new' : null },
    el('td', {}, when(a.detectedAtMs)), el('td', { class: `sev-${sevOf(a)}` }, sevOf(a)),
    el('td', {}, a.rule), el('td', {}, cellLink('territory', a.territory)),
    el('td', {}, cellLink('rep', a.repId)), el('td', {}, cellLink('hcp', a.hcpId)),
    el('td', {}, cellLink('contract', a.contractId)), el('td', {}, a.summary || ''))));
  $('#open-count').textContent = String(open.size);
  $('#shown').textContent = list.length === open.size ? '' : `(${list.length} shown by the filters)`;
  fillFilter('kind', [...open.values()].map(kindOf));
  fillFilter('rule', [...open.values()].map((a) => a.rule));
  fillFilter('territory', [...open.values()].map((a) => a.territory));
  fillFilter('rep', [...open.values()].map((a) => a.repId));
  fillFilter('contract_type', [...open.values()].map(ctypeOf));
  if (drill) showDrill(drill.field, drill.value);
}

function feed(a) {
  const li = el('li', { 'data-alert-id': a.alertId, 'data-status': statusOf(a) },
    el('span', { class: statusOf(a) }, statusOf(a)), ` ${a.rule} — ${a.summary || a.alertId}`);
  const ol = $('#feed');
  ol.prepend(li);
  while (ol.children.length > 50) ol.lastChild.remove();
}

const FIELDS = { territory: 'territory', rep: 'repId', hcp: 'hcpId', contract: 'contractId' };
function showDrill(field, value) {
  drill = { field, value };
  const list = [...open.values()].filter((a) => (a[FIELDS[field]] || '') === value)
    .sort((a, b) => Number(b.sequence) - Number(a.sequence));
  $('#drill-title').textContent = `${field} ${value}: ${list.length} open alert${list.length === 1 ? '' : 's'}`;
  $('#drill-body').replaceChildren(...list.map((a) => {
    const dl = el('dl');
    for (const [k, v] of Object.entries(a.evidence || {})) dl.append(el('dt', {}, k), el('dd', {}, v));
    dl.append(el('dt', {}, 'events'), el('dd', {}, (a.eventIds || []).join(', ')));
    dl.append(el('dt', {}, 'alert id'), el('dd', {}, a.alertId));
    return el('div', { class: 'alert', 'data-alert-id': a.alertId },
      el('b', { class: `sev-${sevOf(a)}` }, `${sevOf(a)} ${a.rule}`), ` — detected ${when(a.detectedAtMs)}`,
      el('p', {}, a.summary || ''), dl);
  }));
  $('#drill').hidden = false;
}

// ---- the stream ---------------------------------------------------------------------
function setLive(on, text) {
  const s = $('#live');
  s.textContent = text;
  s.className = `live ${on ? 'on' : 'off'}`;
}

function onEvent(type, id, data) {
  if (id) lastId = id;
  if (type === 'snapshot') {
    const snap = JSON.parse(data);
    open.clear();
    for (const a of snap.alerts) open.set(a.alertId, a);
    // The daemon lists at most 20,000 (the oldest); say so when there are more.
    $('#truncated').textContent = snap.open > snap.listed
      ? `(the oldest ${snap.listed} of ${snap.open} open alerts are listed)` : '';
    renderAlerts();
    kpiSoon();
  } else if (type === 'alert') {
    const a = JSON.parse(data);
    if (statusOf(a) === 'FIRING') open.set(a.alertId, a);
    else open.delete(a.alertId);
    feed(a);
    renderAlerts(a.alertId);
    kpiSoon();
  }
  $('#last-seq').textContent = lastId ? `sequence ${lastId}` : '';
}

async function stream() {
  for (;;) {
    try {
      const h = headers({ Accept: 'text/event-stream' });
      if (lastId) h['Last-Event-ID'] = lastId;
      const r = await fetch('/v1/alerts/stream', { headers: h, cache: 'no-store' });
      if (r.status === 401) { setLive(false, 'token needed'); if (!askToken()) return; continue; }
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      setLive(true, 'live');
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let type = 'message', id = null, data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) onEvent(type, id, data);
        }
      }
    } catch (e) {
      console.warn('stream:', e);
    }
    setLive(false, 'reconnecting…');
    await new Promise((res) => setTimeout(res, 2000));
  }
}

// ---- start ------------------------------------------------------------------------
for (const sel of document.querySelectorAll('select[data-filter]')) {
  sel.addEventListener('change', () => { filters[sel.dataset.filter] = sel.value; renderAlerts(); });
}
$('#clear-filters').addEventListener('click', () => {
  for (const sel of document.querySelectorAll('select[data-filter]')) { sel.value = ''; filters[sel.dataset.filter] = ''; }
  renderAlerts();
});
$('select[data-trend-metric]').addEventListener('change', () => renderTrends(fetchJson).catch(() => {}));
$('#drill-close').addEventListener('click', () => { drill = null; $('#drill').hidden = true; });
setInterval(() => loadKpi().catch(() => {}), 10000);
loadKpi().catch(() => {});
stream();
