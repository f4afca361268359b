// touchpointd dashboard: the panels over time — KPI trends by territory
// (/v1/kpi/trend, one small line each, this period against the one
// before), NPS and effort tiles with their trend, and responsiveness (median
// time to resolution by rule and territory, the oldest open alert).

const SVG = 'http://www.w3.org/2000/svg';
const $ = (sel) => document.querySelector(sel);
function el(tag, attrs = {}, ...kids) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

// How each trend metric is shown.
export const METRICS = {
  completeness: { title: 'CRM completeness', fmt: (v) => `${Math.round(v * 100)}%` },
  late_rate: { title: 'late submissions', fmt: (v) => `${Math.round(v * 100)}%` },
  channel_match: { title: 'preferred channel matched', fmt: (v) => `${Math.round(v * 100)}%` },
  nps: { title: 'NPS', fmt: (v) => String(Math.round(v)) },
  effort: { title: 'effort (1-7, high = hard)', fmt: (v) => v.toFixed(1) },
};
const fmtOr = (m, v) => (v === null || v === undefined ? '–' : METRICS[m].fmt(v));
export const durText = (s) => (s >= 86400 ? `${(s / 86400).toFixed(1)} d` : `${(s / 3600).toFixed(1)} h`);

// A group's latest period with a value, and the period just before it
// (null when that one had none): "this period vs the last".
export function thisAndLast(doc, group) {
  const b = doc.buckets;
  for (let i = b.length - 1; i >= 0; i--) {
    const v = b[i].values[group];
    if (v !== undefined && v !== null) {
      const prev = i > 0 ? b[i - 1].values[group] : undefined;
      return { now: v, last: prev === undefined ? null : prev, start: b[i].start };
    }
  }
  return null;
}

async function trend(fetchJson, metric, by) {
  return fetchJson(`/v1/kpi/trend?metric=${metric}&by=${by}&bucket=period`);
}

// One row per territory: its line over every period kept, and the text.
function sparks(svg, doc, metric) {
  svg.replaceChildren();
  const W = 600, LW = 120, TW = 150, H = 22, G = 4;
  const groups = doc.groups.filter((g) => thisAndLast(doc, g));
  if (!groups.length) {
    svg.setAttribute('viewBox', `0 0 ${W} 24`);
    svg.append(el('svg:text', { x: 0, y: 16, class: 'empty' }, 'no data yet'));
    return;
  }
  svg.setAttribute('viewBox', `0 0 ${W} ${groups.length * (H + G)}`);
  const vals = doc.buckets.flatMap((b) => Object.values(b.values).filter((v) => v !== null));
  const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1;
  const n = doc.buckets.length, lw = W - LW - TW;
  groups.forEach((g, i) => {
    const y = i * (H + G);
    const tl = thisAndLast(doc, g);
    const pts = doc.buckets.map((b, j) => [b.values[g], j]).filter(([v]) => v !== undefined && v !== null)
      .map(([v, j]) => `${LW + (n > 1 ? (j / (n - 1)) * lw : lw / 2)},${y + H - 2 - ((v - lo) / span) * (H - 4)}`);
    const down = tl.last !== null && (metric === 'late_rate' || metric === 'effort' ? tl.now > tl.last : tl.now < tl.last);
    const row = el('svg:g', { class: `spark${down ? ' bad' : ''}`, 'data-label': g, 'data-value': String(tl.now) });
    row.append(el('svg:title', {}, `${g}: ${fmtOr(metric, tl.now)} in the period of ${tl.start}`));
    row.append(el('svg:text', { x: 0, y: y + 15 }, g.length > 20 ? `${g.slice(0, 19)}…` : g));
    row.append(el('svg:polyline', { points: pts.join(' ') }));
    row.append(el('svg:text', { x: LW + lw + 6, y: y + 15, class: 'val' },
      `${fmtOr(metric, tl.now)} vs ${fmtOr(metric, tl.last)}`));
    svg.append(row);
  });
}

export async function renderTrends(fetchJson) {
  const sel = $('select[data-trend-metric]');
  const metric = sel.value || 'completeness';
  const doc = await trend(fetchJson, metric, 'territory');
  if (doc) sparks($('[data-chart="trends"] svg'), doc, metric);
}

// NPS and effort: overall from /v1/kpi, the trend from the periods.
export async function renderFeedback(fetchJson, kpi) {
  const fb = kpi.feedback;
  for (const [m, key, id] of [['nps', 'nps', 'nps'], ['effort', 'effort_mean', 'effort']]) {
    $(`[data-testid="${id}-overall"]`).textContent = fmtOr(m, fb[key]);
    const doc = await trend(fetchJson, m, 'all');
    const tl = doc && thisAndLast(doc, 'all');
    $(`[data-testid="${id}-trend"]`).textContent = tl
      ? `${fmtOr(m, tl.now)} in the period of ${tl.start.slice(0, 10)}, ${fmtOr(m, tl.last)} in the one before` : '–';
  }
  $('[data-testid="nps-answers"]').textContent = `${fb.answers} answers, ${fb.promoters} promoters, ${fb.detractors} detractors`;
}

// Median time to resolution per rule and territory (the slowest first),
// and the oldest alert still open (the stream's open alerts).
export function renderResponsiveness(kpi, openAlerts, bars) {
  const rows = [];
  for (const r of kpi.resolution || []) {
    for (const t of r.by_territory) {
      rows.push({ label: `${r.rule} · ${t.name}`, value: t.median_seconds,
        text: `median ${durText(t.median_seconds)}, p90 ${durText(t.p90_seconds)} (${t.count})` });
    }
  }
  bars($('[data-chart="responsiveness"] svg'), rows.sort((a, b) => b.value - a.value).slice(0, 20));
  let oldest = null;
  for (const a of openAlerts) {
    if (!oldest || Number(a.detectedAtMs) < Number(oldest.detectedAtMs)) oldest = a;
  }
  const o = $('[data-testid="oldest-open"]');
  o.textContent = oldest
    ? `${oldest.rule}${oldest.territory ? ` in ${oldest.territory}` : ''}, open since ${new Date(Number(oldest.detectedAtMs)).toISOString().slice(0, 16).replace('T', ' ')}`
    : 'nothing open';
  o.dataset.alertId = oldest ? oldest.alertId : '';
}
