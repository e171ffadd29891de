// The run as one SVG picture: three panels matching the first three scenarios, (a) cold request bars,
// (b) every request of the typing session as a line per system, (c) decode ms/token against the
// bandwidth floor; below them every target of the run as a bar against its limit, and (g) keystroke to
// ghost text in the real editor. Plain SVG strings: no chart library to install, and the PNG renderer only has to
// screenshot it.
import type { BenchResults } from '../results';
import { ENGINE, TRANSFORMERS } from '../targets';

const COLOR: Record<string, string> = { [ENGINE]: '#2563eb', [TRANSFORMERS]: '#ea580c' };
const WIDTH = 1440; // room right of panel (c) for the floor labels
const HEIGHT = 520;
/** The second row: targets (left) and ghost text latency (right), one horizontal bar per line. */
const ROW2 = { top: 530, line: 26, labelWidth: 470, barWidth: 260, ghostLeft: 1010, ghostBarWidth: 300 };
const MET = '#16a34a';
const MISSED = '#dc2626';
const PANEL = { top: 112, height: 330, width: 360 };
const PANEL_LEFT = [70, 510, 950];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const text = (x: number, y: number, s: string, attrs = '') => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

/** A "nice" axis maximum (1, 2, 2.5, 5 x 10^n) at or above `value`. */
function niceMax(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= value)!;
}

interface Scale {
  y: (v: number) => number;
  ticks: number[];
  base: number; // the value bars grow from
}

function linearScale(max: number): Scale {
  const { top, height } = PANEL;
  return { y: (v) => top + height - (v / max) * height, ticks: [0, 1, 2, 3, 4, 5].map((i) => (max * i) / 5), base: 0 };
}

/** Log scale for decode times: the floor, 2x the floor and a 30x slower system all stay readable. */
function logScale(min: number, max: number): Scale {
  const { top, height } = PANEL;
  const [lo, hi] = [Math.log10(min), Math.log10(max)];
  const ticks = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) for (const m of [1, 2, 5]) if (m * 10 ** e >= min && m * 10 ** e <= max) ticks.push(m * 10 ** e);
  return { y: (v) => top + height - ((Math.log10(v) - lo) / (hi - lo)) * height, ticks, base: min };
}

/** Axis, gridlines and labels of one panel. */
function panelFrame(parts: string[], left: number, title: string, subtitle: string, scale: Scale, yLabel: string): void {
  const { top, height, width } = PANEL;
  parts.push(text(left, 62, title, 'class="title"'), text(left, 82, subtitle, 'class="sub"'));
  for (const v of scale.ticks) {
    parts.push(`<line x1="${left}" x2="${left + width}" y1="${scale.y(v)}" y2="${scale.y(v)}" class="grid"/>`, text(left - 8, scale.y(v) + 4, tick(v), 'class="tick" text-anchor="end"'));
  }
  parts.push(text(left - 52, top + height / 2, yLabel, `class="axis" transform="rotate(-90 ${left - 52} ${top + height / 2})" text-anchor="middle"`));
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + height}" class="axisline"/>`, `<line x1="${left}" x2="${left + width}" y1="${top + height}" y2="${top + height}" class="axisline"/>`);
}

const tick = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** A bar with its value on top and, when given, a p90 whisker. */
function bar(parts: string[], x: number, w: number, scale: Scale, value: number, color: string, p90?: number): void {
  const { y } = scale;
  const base = y(scale.base);
  parts.push(`<rect x="${x}" y="${y(value)}" width="${w}" height="${base - y(value)}" fill="${color}" rx="2"/>`);
  if (p90 !== undefined) parts.push(`<line x1="${x + w / 2}" x2="${x + w / 2}" y1="${y(value)}" y2="${y(p90)}" class="whisker"/>`, `<line x1="${x + w / 2 - 6}" x2="${x + w / 2 + 6}" y1="${y(p90)}" y2="${y(p90)}" class="whisker"/>`);
  parts.push(text(x + w / 2, Math.min(y(value), p90 === undefined ? y(value) : y(p90)) - 6, fmt(value), 'class="value" text-anchor="middle"'));
}

function coldPanel(parts: string[], r: BenchResults): void {
  const c = r.coldRequest;
  const stats = [ENGINE, TRANSFORMERS].map((name) => ({ name, ...c.systems[name].ms }));
  const scale = linearScale(niceMax(Math.max(...stats.map((s) => s.p90)) * 1.1));
  panelFrame(parts, PANEL_LEFT[0], '(a) Cold request', `${c.promptTokens}-token prompt + ${c.maxNewTokens} new; median of ${c.repetitions}, whisker p90, ○ each run`, scale, 'ms per request');
  stats.forEach((s, i) => {
    const x = PANEL_LEFT[0] + 60 + i * 150;
    bar(parts, x, 90, scale, s.median, COLOR[s.name], s.p90);
    // Every repetition as a dot beside the bar, so a reader sees how much outside load spread them.
    c.systems[s.name].requests.forEach((q) => parts.push(`<circle cx="${x + 104}" cy="${scale.y(q.ms)}" r="3" fill="none" stroke="${COLOR[s.name]}" stroke-width="1.5"/>`));
    parts.push(text(x + 45, PANEL.top + PANEL.height + 20, s.name, 'class="tick" text-anchor="middle"'));
  });
  const ratio = stats[0].median / stats[1].median;
  parts.push(text(PANEL_LEFT[0] + PANEL.width, PANEL.top - 8, `engine / transformers.js = ${ratio.toFixed(2)}x`, 'class="note" text-anchor="end"'));
}

function typingPanel(parts: string[], r: BenchResults): void {
  const t = r.typingSession;
  const left = PANEL_LEFT[1];
  // The axis ends a bit above the higher p90: a few requests slowed 5x by outside load would otherwise
  // squash everything else flat. Those are drawn as triangles on the top edge and counted in a note.
  const top = niceMax(Math.max(...[ENGINE, TRANSFORMERS].map((name) => t.systems[name].ms.p90)) * 1.2);
  const scale = linearScale(top);
  const y = (v: number) => scale.y(Math.min(v, top));
  panelFrame(parts, left, '(b) Typing session', `${t.requests} requests, each prompt = previous + 1-3 chars, ${t.maxNewTokens} new tokens`, scale, 'ms per request');
  const x = (i: number) => left + 10 + (i / Math.max(1, t.requests - 1)) * (PANEL.width - 20);
  const clipped: number[] = [];
  for (const name of [ENGINE, TRANSFORMERS]) {
    const s = t.systems[name];
    const points = s.requests.map((q, i) => `${x(i).toFixed(1)},${y(q.ms).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${COLOR[name]}" stroke-width="2"/>`);
    s.requests.forEach((q, i) => {
      if (q.ms <= top) return parts.push(`<circle cx="${x(i)}" cy="${y(q.ms)}" r="2.5" fill="${COLOR[name]}"/>`);
      clipped.push(q.ms);
      parts.push(`<path d="M${x(i) - 5},${y(q.ms) + 8} L${x(i) + 5},${y(q.ms) + 8} L${x(i)},${y(q.ms)} Z" fill="${COLOR[name]}"/>`);
    });
    parts.push(`<line x1="${left}" x2="${left + PANEL.width}" y1="${y(s.ms.median)}" y2="${y(s.ms.median)}" stroke="${COLOR[name]}" class="median"/>`);
  }
  // Medians in a key at the top left, where the lines do not run over them.
  parts.push(`<rect x="${left + 6}" y="${PANEL.top + 6}" width="250" height="${clipped.length ? 58 : 42}" fill="white" opacity="0.9"/>`);
  [TRANSFORMERS, ENGINE].forEach((name, i) => {
    const s = t.systems[name].ms;
    parts.push(text(left + 12, PANEL.top + 22 + i * 16, `${name}: median ${fmt(s.median)} ms, p90 ${fmt(s.p90)}`, `class="note" fill="${COLOR[name]}"`));
  });
  if (clipped.length) parts.push(text(left + 12, PANEL.top + 54, `▲ ${clipped.length} request${clipped.length > 1 ? 's' : ''} above the axis (up to ${fmt(Math.max(...clipped))} ms)`, 'class="tiny"'));
  parts.push(text(left + PANEL.width / 2, PANEL.top + PANEL.height + 20, 'request (keystroke burst) #, first one cold for both', 'class="tick" text-anchor="middle"'));
  const ratio = t.systems[ENGINE].ms.median / t.systems[TRANSFORMERS].ms.median;
  parts.push(text(left + PANEL.width, PANEL.top - 8, `median engine / transformers.js = ${ratio.toFixed(2)}x (target <= 0.25)`, 'class="note" text-anchor="end"'));
}

function decodePanel(parts: string[], r: BenchResults): void {
  const left = PANEL_LEFT[2];
  const d = r.decodeSpeed;
  const floor = r.floor.ms;
  const contexts = d.systems[ENGINE].map((p) => p.context);
  const values = [ENGINE, TRANSFORMERS].flatMap((name) => (d.systems[name] ?? []).map((p) => p.tokenMs.median));
  const scale = logScale(10 ** Math.floor(Math.log10(Math.min(...values, floor) / 1.5)), niceMax(Math.max(...values) * 1.6));
  const { y } = scale;
  panelFrame(parts, left, '(c) Decode, ms per token (log scale)', `median of ${d.tokensPerPoint} tokens; dashed: bandwidth floor, 2x floor (target at ${Math.max(...contexts)})`, scale, 'ms per token');
  const group = PANEL.width / contexts.length;
  contexts.forEach((context, g) => {
    [ENGINE, TRANSFORMERS].forEach((name, i) => {
      const point = d.systems[name]?.find((p) => p.context === context);
      if (!point) return;
      const x = left + g * group + 30 + i * 64;
      bar(parts, x, 56, scale, point.tokenMs.median, COLOR[name]);
      parts.push(text(x + 28, y(point.tokenMs.median) - 20, `${(point.tokenMs.median / floor).toFixed(1)}x floor`, 'class="tiny" text-anchor="middle"'));
    });
    parts.push(text(left + g * group + group / 2, PANEL.top + PANEL.height + 20, `${context} tokens of context`, 'class="tick" text-anchor="middle"'));
  });
  const budget = r.budget && contexts.includes(r.budget.context) ? r.budget : undefined;
  if (budget) {
    // What ORT's kernels alone take for the step's linears and attention, across the engine's bar.
    const x = left + contexts.indexOf(budget.context) * group + 30;
    const v = budget.linearsAndAttentionMs.median;
    parts.push(`<line x1="${x - 6}" x2="${x + 56}" y1="${y(v)}" y2="${y(v)}" class="budget"/>`);
    parts.push(text(x - 8, y(v) - 13, 'kernels', 'class="tiny" text-anchor="end"'), text(x - 8, y(v) - 2, `alone ${(v / floor).toFixed(1)}x`, 'class="tiny" text-anchor="end"'));
  }
  for (const [multiple, label] of [[1, 'floor'], [2, '2x floor']] as const) {
    const v = multiple * floor;
    parts.push(`<line x1="${left}" x2="${left + PANEL.width}" y1="${y(v)}" y2="${y(v)}" class="floor"/>`);
    parts.push(text(left + PANEL.width + 6, y(v) + 4, `${label} ${fmt(v)} ms`, 'class="tiny"'));
  }
}

/** Each target on its own scale: the bar is the value, the black tick the limit; green met, red missed. */
function targetsPanel(parts: string[], r: BenchResults): number {
  const left = PANEL_LEFT[0] - 50;
  parts.push(text(left, ROW2.top + 20, 'Targets of the run', 'class="title"'), text(left + 190, ROW2.top + 20, 'bar: measured, tick: the limit (each row on its own scale)', 'class="sub"'));
  r.targets.forEach((t, i) => {
    const y = ROW2.top + 40 + i * ROW2.line;
    const max = Math.max(t.value, t.limit) * 1.15;
    const x0 = left + ROW2.labelWidth;
    const w = (v: number) => (v / max) * ROW2.barWidth;
    parts.push(text(x0 - 8, y + 13, t.name, 'class="tiny" text-anchor="end"'));
    parts.push(`<rect x="${x0}" y="${y + 2}" width="${w(t.value).toFixed(1)}" height="14" fill="${t.met ? MET : MISSED}" rx="2" opacity="0.85"/>`);
    parts.push(`<line x1="${(x0 + w(t.limit)).toFixed(1)}" x2="${(x0 + w(t.limit)).toFixed(1)}" y1="${y - 1}" y2="${y + 19}" class="whisker"/>`);
    const limit = `${t.direction === 'at least' ? '>=' : '<='} ${Number(t.limit.toFixed(2))}`;
    parts.push(text(x0 + ROW2.barWidth + 8, y + 13, `${t.value.toFixed(2)}${t.unit === 'x' ? 'x' : ' ' + t.unit} (${limit}) ${t.met ? 'MET' : 'MISSED'}`, `class="tiny" fill="${t.met ? MET : MISSED}"`));
  });
  return ROW2.top + 40 + r.targets.length * ROW2.line;
}

/** (g): p50 bars with a p90 whisker, one per model and budget. */
function ghostPanel(parts: string[], r: BenchResults): number {
  const g = r.ghostLatency;
  const left = ROW2.ghostLeft;
  parts.push(text(left, ROW2.top + 20, '(g) Keystroke to ghost text, code-server', 'class="title"'));
  if (!g || 'skipped' in g) {
    parts.push(text(left, ROW2.top + 44, g ? `skipped: ${g.skipped}` : 'not measured in this run', 'class="sub"'));
    return ROW2.top + 60;
  }
  parts.push(text(left, ROW2.top + 38, `bar p50, whisker p90; ${g.tries} keystrokes each, debounce ${g.debounceMs} ms`, 'class="sub"'));
  const measured = g.runs.filter((run) => run.p50Ms !== undefined);
  const max = niceMax(Math.max(1, ...measured.map((run) => run.p90Ms!)) * 1.1);
  const w = (v: number) => (v / max) * ROW2.ghostBarWidth;
  g.runs.forEach((run, i) => {
    const y = ROW2.top + 56 + i * 2 * ROW2.line;
    parts.push(text(left, y + 10, run.name, 'class="tiny"'));
    if (run.p50Ms === undefined) return parts.push(text(left, y + 26, run.skipped ? `skipped: ${run.skipped}` : 'no ghost text', 'class="tiny"'));
    parts.push(`<rect x="${left}" y="${y + 16}" width="${w(run.p50Ms).toFixed(1)}" height="14" fill="${COLOR[ENGINE]}" rx="2"/>`);
    parts.push(`<line x1="${left + w(run.p50Ms)}" x2="${left + w(run.p90Ms!)}" y1="${y + 23}" y2="${y + 23}" class="whisker"/>`, `<line x1="${left + w(run.p90Ms!)}" x2="${left + w(run.p90Ms!)}" y1="${y + 17}" y2="${y + 29}" class="whisker"/>`);
    parts.push(text(left + w(run.p90Ms!) + 6, y + 28, `${fmt(run.p50Ms)} / ${fmt(run.p90Ms!)} ms`, 'class="tiny"'));
  });
  return ROW2.top + 56 + g.runs.length * 2 * ROW2.line;
}

export function renderChartSvg(r: BenchResults): string {
  const parts: string[] = [];
  coldPanel(parts, r);
  typingPanel(parts, r);
  decodePanel(parts, r);
  const height = Math.max(HEIGHT, targetsPanel(parts, r) + 40, ghostPanel(parts, r) + 40);
  const legend = [ENGINE, TRANSFORMERS].map((name, i) => `<rect x="${WIDTH - 390 + i * 200}" y="18" width="14" height="14" fill="${COLOR[name]}" rx="2"/>${text(WIDTH - 370 + i * 200, 30, name === ENGINE ? 'engine (this project)' : name, 'class="legend"')}`).join('');
  const { options: o, model } = r;
  const title = `local-gpt2 engine vs transformers.js generate(): GPT-2 ${model.nLayer} layers x ${model.nEmbd} dims, ${o.dtype}, ${o.threads} threads`;
  const footer = `${r.date.slice(0, 10)} · ${r.machine.cpu}, ${r.machine.cores} cores, shared machine (load avg ${r.machine.loadAverage.start[0].toFixed(1)} at start, ${r.machine.loadAverage.end[0].toFixed(1)} at end) · read bandwidth ${r.floor.gbPerSecond.toFixed(1)} GB/s · weights ${(r.floor.weightBytesPerToken / 1e6).toFixed(1)} MB/token · ${model.file}${o.quick ? ' · QUICK RUN' : ''}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 17px; font-weight: bold; fill: #111827 }
  .sub { font-size: 12px; fill: #4b5563 }
  .tick { font-size: 12px; fill: #374151 }
  .axis { font-size: 12px; fill: #374151 }
  .value { font-size: 13px; font-weight: bold; fill: #111827 }
  .note { font-size: 12px; fill: #111827 }
  .tiny { font-size: 11px; fill: #374151 }
  .legend { font-size: 13px; fill: #111827 }
  .grid { stroke: #e5e7eb; stroke-width: 1 }
  .axisline { stroke: #6b7280; stroke-width: 1 }
  .whisker { stroke: #111827; stroke-width: 1.5 }
  .median { stroke-width: 1.5; stroke-dasharray: 6 4; opacity: 0.8 }
  .floor { stroke: #111827; stroke-width: 1.2; stroke-dasharray: 5 4 }
  .budget { stroke: #111827; stroke-width: 2.5 }
</style>
<rect width="100%" height="100%" fill="white"/>
${text(20, 30, title, 'class="title"')}
${legend}
${parts.join('\n')}
${text(20, height - 16, footer, 'class="tiny"')}
</svg>`;
}
