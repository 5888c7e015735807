// One trace as an SVG waterfall, for the README: which service did what, nested under what,
// and when. Rows are the spans as a tree (children under their parent, by start time), bars on a
// shared time axis. Spans come from the test OTLP receiver (test/support/otlp-receiver.ts).
//
//   node --import tsx scripts/trace-picture.ts <spans.json> <out.svg> [traceId]
//
// spans.json is an array of ReceivedSpan as spansToJson writes it; without a trace id the trace
// with the most spans is drawn.
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { ReceivedSpan } from '../test/support/otlp-receiver.js';

const WIDTH = 1200;
const ROW_HEIGHT = 22;
const HEADER_HEIGHT = 84;
const LABEL_WIDTH = 470;
const BAR_LEFT = LABEL_WIDTH + 10;
/** Room right of the time axis for the duration label of a span that ends last. */
const BAR_RIGHT = WIDTH - 70;
const INDENT = 14;
/** Average glyph width of 12px sans-serif, to size tags and cut labels without measuring text. */
const CHAR_WIDTH = 6.6;
const TAG_CHAR_WIDTH = 5.6;
// Tableau 10, darker yellow so white tag text stays readable.
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b8a02e', '#b07aa1', '#ff9da7', '#9c755f'];
/** Attributes worth reading in the picture, shown in grey after the span's name. */
const NOTED_ATTRIBUTES = ['order.status', 'messaging.destination.name'];

/** Serialises spans as JSON, bigint nanoseconds as decimal strings (JSON has no bigint). */
export function spansToJson(spans: ReceivedSpan[]): string {
  return JSON.stringify(spans, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2);
}

/** Reads what spansToJson wrote; nanoseconds may also be plain numbers. */
export function spansFromJson(json: string): ReceivedSpan[] {
  const parsed = JSON.parse(json) as (Omit<ReceivedSpan, 'startNs' | 'endNs'> & { startNs: unknown; endNs: unknown })[];
  return parsed.map((span) => ({ ...span, startNs: BigInt(String(span.startNs)), endNs: BigInt(String(span.endNs)) }));
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

function truncate(text: string, maxWidth: number, charWidth = CHAR_WIDTH): string {
  const maxChars = Math.max(1, Math.floor(maxWidth / charWidth));
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}

function serviceOf(span: ReceivedSpan): string {
  const name = span.resource['service.name'];
  return typeof name === 'string' ? name : 'unknown';
}

function formatMs(ms: number): string {
  return `${ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms`;
}

/** The spans depth first, children after their parent by start time; a span whose parent is absent is a root. */
function asTree(spans: ReceivedSpan[]): { span: ReceivedSpan; depth: number }[] {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanId !== '' && ids.has(span.parentSpanId) ? span.parentSpanId : '';
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const byStart = (a: ReceivedSpan, b: ReceivedSpan) =>
    a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : a.name.localeCompare(b.name);
  const rows: { span: ReceivedSpan; depth: number }[] = [];
  const seen = new Set<ReceivedSpan>();
  const visit = (span: ReceivedSpan, depth: number) => {
    if (seen.has(span)) return; // a span id used twice must not loop
    seen.add(span);
    rows.push({ span, depth });
    for (const child of (children.get(span.spanId) ?? []).sort(byStart)) visit(child, depth + 1);
  };
  for (const root of (children.get('') ?? []).sort(byStart)) visit(root, 0);
  return rows;
}

/** A tick interval of 1, 2 or 5 × 10^n ms giving 5 to 10 ticks over `totalMs`. */
function tickStep(totalMs: number): number {
  const rough = Math.max(totalMs, 0.001) / 8;
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5].map((m) => m * power).find((step) => step >= rough) ?? 10 * power;
}

/** The spans of one trace as an SVG waterfall. Pure: no I/O. */
export function renderTraceSvg(spans: ReceivedSpan[], title: string): string {
  const rows = asTree(spans);
  // Bigints, which Math.min and Math.max do not take.
  let t0 = spans[0]?.startNs ?? 0n;
  let t1 = spans[0]?.endNs ?? 0n;
  for (const span of spans) {
    if (span.startNs < t0) t0 = span.startNs;
    if (span.endNs > t1) t1 = span.endNs;
  }
  const totalMs = Number(t1 - t0) / 1e6;
  const x = (ns: bigint) => BAR_LEFT + (totalMs > 0 ? (Number(ns - t0) / 1e6 / totalMs) * (BAR_RIGHT - BAR_LEFT) : 0);
  const height = HEADER_HEIGHT + rows.length * ROW_HEIGHT + 12;
  const traceIds = [...new Set(spans.map((span) => span.traceId))];

  const colours = new Map<string, string>();
  for (const { span } of rows) {
    const service = serviceOf(span);
    if (!colours.has(service)) colours.set(service, PALETTE[colours.size % PALETTE.length] as string);
  }

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    // The picture's text alternative (screen readers; Biome's a11y rule).
    `<title>${escapeXml(`${title}: the ${spans.length} spans of one trace, as a waterfall`)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="24" font-size="16" font-weight="bold" fill="#222">${escapeXml(title)}</text>`,
    `<text x="10" y="44" fill="#666">${escapeXml(
      `trace ${traceIds.join(', ') || '(none)'} · ${spans.length} spans · ${formatMs(totalMs)}`,
    )}</text>`,
  ];

  // Alternate row shading first, so grid lines and bars draw over it.
  rows.forEach((_, i) => {
    if (i % 2 === 1) {
      out.push(
        `<rect x="0" y="${HEADER_HEIGHT + i * ROW_HEIGHT}" width="${WIDTH}" height="${ROW_HEIGHT}" fill="#f7f7f7"/>`,
      );
    }
  });

  // Time axis: a tick label above the rows and a light grid line through them.
  const step = tickStep(totalMs);
  const gridBottom = HEADER_HEIGHT + rows.length * ROW_HEIGHT;
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (let k = 0; k * step <= totalMs * (1 + 1e-9); k++) {
    const ms = k * step;
    const gx = (BAR_LEFT + (totalMs > 0 ? (ms / totalMs) * (BAR_RIGHT - BAR_LEFT) : 0)).toFixed(1);
    const label = ms.toFixed(decimals);
    out.push(`<line x1="${gx}" y1="${HEADER_HEIGHT - 6}" x2="${gx}" y2="${gridBottom}" stroke="#e4e4e4"/>`);
    out.push(
      `<text x="${gx}" y="${HEADER_HEIGHT - 10}" text-anchor="middle" font-size="10" fill="#888">${label} ms</text>`,
    );
  }

  rows.forEach(({ span, depth }, i) => {
    const top = HEADER_HEIGHT + i * ROW_HEIGHT;
    const middle = top + ROW_HEIGHT / 2;
    const baseline = middle + 4;
    const service = serviceOf(span);
    const colour = colours.get(service) ?? '#999';

    // Left column: indented service tag, then the name and a noted attribute.
    const left = 10 + depth * INDENT;
    const tag = truncate(service, 120, TAG_CHAR_WIDTH);
    const tagWidth = tag.length * TAG_CHAR_WIDTH + 10;
    out.push(
      `<rect x="${left}" y="${top + 4}" width="${tagWidth.toFixed(1)}" height="${ROW_HEIGHT - 8}" rx="3" fill="${colour}"/>`,
    );
    out.push(`<text x="${left + 5}" y="${baseline - 1}" font-size="10" fill="#fff">${escapeXml(tag)}</text>`);
    const nameLeft = left + tagWidth + 6;
    const noted = NOTED_ATTRIBUTES.map((key) => span.attributes[key]).find((value) => value !== undefined);
    const name = truncate(span.name, LABEL_WIDTH - nameLeft);
    const roomLeft = LABEL_WIDTH - nameLeft - name.length * CHAR_WIDTH;
    const extra = noted !== undefined && roomLeft > 3 * CHAR_WIDTH ? truncate(` ${String(noted)}`, roomLeft) : '';
    out.push(
      `<text x="${nameLeft.toFixed(1)}" y="${baseline}" fill="#222">${escapeXml(name)}${
        extra ? `<tspan fill="#888">${escapeXml(extra)}</tspan>` : ''
      }</text>`,
    );

    // Right part: the bar on the time axis (at least 1px, so instant spans still show), an error
    // outlined in red, and the duration next to it.
    const barX = x(span.startNs);
    const barWidth = Math.max(1, x(span.endNs) - barX);
    const error = span.statusCode === 2 ? ' stroke="#c00" stroke-width="1.5"' : '';
    out.push(
      `<rect x="${barX.toFixed(1)}" y="${top + 5}" width="${barWidth.toFixed(1)}" height="${ROW_HEIGHT - 10}" rx="2" fill="${colour}"${error}><title>${escapeXml(
        `${service}: ${span.name} (${span.kind}) ${formatMs(Number(span.endNs - span.startNs) / 1e6)}`,
      )}</title></rect>`,
    );
    out.push(
      `<text x="${(barX + barWidth + 4).toFixed(1)}" y="${baseline}" font-size="10" fill="#555">${formatMs(Number(span.endNs - span.startNs) / 1e6)}</text>`,
    );
  });

  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The trace to draw: the one asked for, or the one with the most spans. */
function pickTrace(spans: ReceivedSpan[], traceId: string | undefined): ReceivedSpan[] {
  if (traceId !== undefined) return spans.filter((span) => span.traceId === traceId.toLowerCase());
  const counts = new Map<string, number>();
  for (const span of spans) counts.set(span.traceId, (counts.get(span.traceId) ?? 0) + 1);
  const [biggest] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [];
  return spans.filter((span) => span.traceId === biggest);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [input, output, traceId] = process.argv.slice(2);
  if (input === undefined || output === undefined) {
    console.error('usage: node --import tsx scripts/trace-picture.ts <spans.json> <out.svg> [traceId]');
    process.exit(2);
  }
  const spans = pickTrace(spansFromJson(readFileSync(input, 'utf8')), traceId);
  if (spans.length === 0) {
    console.error(traceId === undefined ? `no spans in ${input}` : `no spans of trace ${traceId} in ${input}`);
    process.exit(1);
  }
  // Titled after the trace's first root span (e.g. the API request that started it).
  const title = asTree(spans)[0]?.span.name ?? 'trace';
  writeFileSync(output, renderTraceSvg(spans, title));
  console.log(`${output}: trace ${spans[0]?.traceId}, ${spans.length} spans`);
}
