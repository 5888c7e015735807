// A V8 CPU profile (the .cpuprofile JSON `node --cpu-prof` writes) as a self-contained SVG flame
// graph: the root at the bottom, each function stacked above its caller, every frame as wide as
// the time spent in it and in what it called (inclusive time). Calls along the same stack are
// merged by frame name, so one code path shows as one frame however often it ran. Hover a frame
// for its time. No dependencies, so it runs wherever node and tsx do.
//
//   node --import tsx scripts/flame-graph.ts <in.cpuprofile> <out.svg> [title]
//
// writes the SVG and prints the 20 frames with the most self time.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
    hitCount?: number;
  }[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

type ProfileNode = CpuProfile['nodes'][number];

const DEFAULT_WIDTH = 1200;
const SIDE = 10;
const HEADER_HEIGHT = 62;
const FRAME_HEIGHT = 16;
const FONT_SIZE = 11;
/** Glyph width of the monospace font, to cut labels to fit without measuring text. */
const CHAR_WIDTH = FONT_SIZE * 0.6;
/** Narrower frames cannot be seen, and a big profile has thousands of them. */
const MIN_FRAME_WIDTH = 0.1;
/** Sampled while the thread waited for work: not CPU time, so neither drawn nor counted. */
const IDLE = '(idle)';
/** V8's top node; its children ((program), (garbage collector), the entry points) sit on "all". */
const ROOT = '(root)';

/** Where a frame's code comes from, which its colour shows. */
type Origin = 'project' | 'dependency' | 'temporal' | 'node' | 'runtime';

/** Colours of one origin: HSL, hue in degrees, saturation and lightness in %. */
interface Band {
  label: string;
  hue: [number, number];
  saturation: number;
  lightness: [number, number];
}

// Warm hues, one band per origin, so the reader sees at a glance whose code takes the time; within
// a band the name picks the shade, so neighbouring frames differ and a frame keeps its colour.
const PALETTE: Record<Origin, Band> = {
  project: { label: 'own code', hue: [0, 24], saturation: 80, lightness: [56, 66] },
  dependency: { label: 'node_modules', hue: [42, 56], saturation: 85, lightness: [52, 62] },
  temporal: { label: 'node_modules/@temporalio', hue: [316, 336], saturation: 60, lightness: [62, 72] },
  node: { label: 'Node.js and V8 built-ins', hue: [24, 38], saturation: 35, lightness: [58, 68] },
  runtime: { label: 'GC, (program), all', hue: [0, 0], saturation: 0, lightness: [72, 80] },
};

interface Frame {
  name: string;
  origin: Origin;
  /** Milliseconds sampled in this frame itself, and in it and everything above it. */
  self: number;
  total: number;
  parent: Frame | undefined;
  children: Map<string, Frame>;
}

/** The function's name and where it is: "handle orders.ts:42". */
function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (url === '') return name;
  // V8 counts lines from 0; editors and stack traces from 1.
  return `${name} ${basename(url)}${lineNumber >= 0 ? `:${lineNumber + 1}` : ''}`;
}

function originOf(node: ProfileNode): Origin {
  const { functionName, url } = node.callFrame;
  const path = url.replaceAll('\\', '/');
  if (path.includes('node_modules/@temporalio')) return 'temporal';
  if (path.includes('node_modules/')) return 'dependency';
  // V8's pseudo-frames: (root), (program), (garbage collector), (idle).
  if (url === '' && functionName.startsWith('(')) return 'runtime';
  if (url === '' || path.startsWith('node:') || path.startsWith('internal/')) return 'node';
  return 'project';
}

/** Milliseconds each node was sampled running itself (not its callees), by node id. */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  const add = (id: number, ms: number) => self.set(id, (self.get(id) ?? 0) + ms);
  const { samples, timeDeltas } = profile;
  if (samples !== undefined && timeDeltas !== undefined && samples.length > 0 && samples.length === timeDeltas.length) {
    // timeDeltas[i] is the µs from the sample before (from startTime for the first) to sample i.
    // A sample stands for the time until the next one, the last for the time until endTime, as
    // Chrome's DevTools count it.
    let at = profile.startTime;
    for (let i = 0; i < samples.length; i++) {
      at += timeDeltas[i]!;
      const next = i + 1 < samples.length ? at + timeDeltas[i + 1]! : profile.endTime;
      // V8 now and then records a sample slightly out of order: a negative interval counts as none.
      add(samples[i]!, Math.max(0, next - at) / 1000);
    }
    return self;
  }
  // No timeline (an older or trimmed profile): spread the profile's duration evenly over the hits.
  const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const interval = hits > 0 ? (profile.endTime - profile.startTime) / hits / 1000 : 0;
  for (const node of profile.nodes) add(node.id, (node.hitCount ?? 0) * interval);
  return self;
}

/** The call tree under one root "all", identical stacks merged by frame name, "(idle)" left out. */
function mergedTree(profile: CpuProfile): Frame {
  const self = selfTimes(profile);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const called = new Set(profile.nodes.flatMap((node) => node.children ?? []));
  const all: Frame = { name: 'all', origin: 'runtime', self: 0, total: 0, parent: undefined, children: new Map() };
  const created: Frame[] = [];
  // A worklist, not recursion: a deeply recursive program gives a profile deeper than our stack.
  const work = profile.nodes.filter((node) => !called.has(node.id)).map((node) => ({ id: node.id, parent: all }));
  const seen = new Set<number>();
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    const node = byId.get(item.id);
    // A dangling or repeated id (a malformed profile) must neither count twice nor loop.
    if (node === undefined || seen.has(item.id)) continue;
    seen.add(item.id);
    const name = frameName(node);
    if (name === IDLE) continue;
    let frame = item.parent;
    if (name !== ROOT) {
      const existing = item.parent.children.get(name);
      frame = existing ?? { name, origin: originOf(node), self: 0, total: 0, parent: item.parent, children: new Map() };
      if (existing === undefined) {
        item.parent.children.set(name, frame);
        created.push(frame);
      }
    }
    frame.self += self.get(item.id) ?? 0;
    for (const child of node.children ?? []) work.push({ id: child, parent: frame });
  }
  // Inclusive times: every frame was created after its parent, so going from the newest back, a
  // frame's total is complete before it is added to its parent's.
  for (const frame of created.reverse()) {
    frame.total += frame.self;
    frame.parent!.total += frame.total;
  }
  all.total += all.self;
  return all;
}

/** The hottest frames by self time (summed over every stack they appear in), "(idle)" left out. `share` is of all sampled time, 0 to 1. */
export function topSelfTime(profile: CpuProfile, n = 20): { name: string; selfMs: number; share: number }[] {
  const self = selfTimes(profile);
  const byName = new Map<string, number>();
  for (const node of profile.nodes) {
    const name = frameName(node);
    if (name !== IDLE) byName.set(name, (byName.get(name) ?? 0) + (self.get(node.id) ?? 0));
  }
  const total = [...byName.values()].reduce((sum, ms) => sum + ms, 0);
  return [...byName]
    .filter(([, ms]) => ms > 0)
    .map(([name, selfMs]) => ({ name, selfMs, share: selfMs / total }))
    .sort((a, b) => b.selfMs - a.selfMs || byCodeUnits(a.name, b.name))
    .slice(0, n);
}

/** Plain string order, the same on every machine (localeCompare depends on the locale). */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

function formatMs(ms: number): string {
  return `${ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms`;
}

/** FNV-1a: a stable hash, so a frame has the same colour in every graph. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** As rgb(), which every SVG viewer reads (hsl() is newer than SVG 1.1). */
function hslToRgb(hue: number, saturation: number, lightness: number): string {
  const s = saturation / 100;
  const l = lightness / 100;
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return `rgb(${channel(0)},${channel(8)},${channel(4)})`;
}

/** A shade of the origin's band: `shade`'s low 16 bits pick the hue, its high 16 the lightness. */
function colourOf(origin: Origin, shade: number): string {
  const { hue, saturation, lightness } = PALETTE[origin];
  const along = (range: [number, number], fraction: number) => range[0] + (range[1] - range[0]) * fraction;
  return hslToRgb(along(hue, (shade & 0xffff) / 0xffff), saturation, along(lightness, (shade >>> 16) / 0xffff));
}

/** The label that fits in `width` px: the whole name, or its start and "…", or nothing. */
function fitLabel(name: string, width: number): string {
  const chars = Math.floor((width - 6) / CHAR_WIDTH);
  if (chars < 3) return '';
  return name.length <= chars ? name : `${name.slice(0, chars - 1)}…`;
}

/** The profile as an SVG flame graph. Pure: no I/O. */
export function flameGraphSvg(
  profile: CpuProfile,
  options: { title?: string; width?: number; minFrameWidth?: number } = {},
): string {
  const width = options.width ?? DEFAULT_WIDTH;
  // Narrower frames (and their callees) are left out: 0.1 px keeps nearly all; 1 px makes a small file to publish.
  const minFrameWidth = options.minFrameWidth ?? MIN_FRAME_WIDTH;
  const title = options.title ?? 'CPU profile';
  const all = mergedTree(profile);
  const scale = all.total > 0 ? (width - 2 * SIDE) / all.total : 0;
  const percent = (ms: number) => `${((ms / all.total) * 100).toFixed(2)}%`;

  // Laid out first: the height depends on the deepest frame wide enough to draw. Children start
  // at their parent's left edge, sorted by name; the parent's self time is the gap on the right.
  const boxes: { frame: Frame; x: number; depth: number }[] = [];
  const work = [{ frame: all, x: SIDE, depth: 0 }];
  for (let box = work.pop(); box !== undefined; box = work.pop()) {
    if (box.frame.total * scale < minFrameWidth) continue; // and its children, narrower still
    boxes.push(box);
    let x = box.x;
    for (const child of [...box.frame.children.values()].sort((a, b) => byCodeUnits(a.name, b.name))) {
      work.push({ frame: child, x, depth: box.depth + 1 });
      x += child.total * scale;
    }
  }
  const maxDepth = Math.max(0, ...boxes.map((box) => box.depth));
  const height = HEADER_HEIGHT + (maxDepth + 1) * FRAME_HEIGHT + SIDE;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="${FONT_SIZE}" role="img">`,
    // The picture's text alternative (screen readers; Biome's a11y rule).
    `<title>${escapeXml(`${title}: flame graph of ${formatMs(all.total)} of sampled CPU time`)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${SIDE}" y="22" font-family="sans-serif" font-size="15" fill="#222"><tspan font-weight="bold">${escapeXml(
      title,
    )}</tspan><tspan fill="#666"> · ${formatMs(all.total)} sampled (idle left out) · width ∝ time in a function and its callees</tspan></text>`,
  ];
  // Legend: which colour is whose code.
  let legendX = SIDE;
  for (const [origin, { label }] of Object.entries(PALETTE) as [Origin, Band][]) {
    out.push(`<rect x="${legendX}" y="33" width="12" height="12" fill="${colourOf(origin, 0x7fff7fff)}"/>`);
    out.push(`<text x="${legendX + 16}" y="43" fill="#444">${escapeXml(label)}</text>`);
    legendX += 16 + label.length * CHAR_WIDTH + 18;
  }

  for (const { frame, x, depth } of boxes) {
    const y = HEADER_HEIGHT + (maxDepth - depth) * FRAME_HEIGHT;
    const w = frame.total * scale;
    const tooltip = `${frame.name} — ${formatMs(frame.total)} (${percent(frame.total)}), self ${formatMs(frame.self)}`;
    const label = fitLabel(frame.name, w);
    out.push(
      `<g><title>${escapeXml(tooltip)}</title><rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${FRAME_HEIGHT - 1}" rx="2" fill="${colourOf(frame.origin, hash(frame.name))}"/>${
        label
          ? `<text x="${(x + 3).toFixed(2)}" y="${y + FRAME_HEIGHT - 4}" fill="#111">${escapeXml(label)}</text>`
          : ''
      }</g>`,
    );
  }

  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [input, output, title, minWidth] = process.argv.slice(2);
  if (input === undefined || output === undefined) {
    console.error(
      'usage: node --import tsx scripts/flame-graph.ts <in.cpuprofile> <out.svg> [title] [min frame width px]',
    );
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(input, 'utf8')) as CpuProfile;
  if (!Array.isArray(profile.nodes)) {
    console.error(`${input}: not a V8 CPU profile (no "nodes")`);
    process.exit(1);
  }
  const minFrameWidth = minWidth === undefined ? undefined : Number(minWidth);
  writeFileSync(output, flameGraphSvg(profile, { title: title ?? basename(input), minFrameWidth }));
  console.log(`${output}: flame graph of ${input}`);
  console.log('  self ms       %  frame');
  for (const { name, selfMs, share } of topSelfTime(profile, 20)) {
    console.log(`${selfMs.toFixed(1).padStart(9)} ${(share * 100).toFixed(1).padStart(6)}%  ${name}`);
  }
}
