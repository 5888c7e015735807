// scripts/flame-graph.ts: a V8 CPU profile as an SVG flame graph, and its hottest frames.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CpuProfile, flameGraphSvg, topSelfTime } from '../../scripts/flame-graph.js';

const dir = mkdtempSync(join(tmpdir(), 'flame-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber, columnNumber: 0 });

// (root) ─┬─ alpha a.ts:10 ── gamma a.ts:21
//         ├─ beta<T> & "q" index.js:3   (node_modules)
//         ├─ alpha a.ts:10 ── gamma a.ts:21   (another node, the same stack: merged with the first)
//         ├─ (garbage collector)
//         └─ (idle)
// Ten samples 10 ms apart: alpha 10 ms self, gamma 30 ms (20 + 10), beta 20 ms, GC 10 ms, idle 30 ms.
const synthetic: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 7, 6, 5] },
    { id: 2, callFrame: frame('alpha', 'file:///app/src/a.ts', 9), children: [4] },
    { id: 3, callFrame: frame('beta<T> & "q"', 'file:///app/node_modules/x/index.js', 2) },
    { id: 4, callFrame: frame('gamma', 'file:///app/src/a.ts', 20) },
    { id: 5, callFrame: frame('(idle)') },
    { id: 6, callFrame: frame('(garbage collector)') },
    { id: 7, callFrame: frame('alpha', 'file:///app/src/a.ts', 9), children: [8] },
    { id: 8, callFrame: frame('gamma', 'file:///app/src/a.ts', 20) },
  ],
  samples: [2, 4, 4, 8, 3, 3, 6, 5, 5, 5],
  timeDeltas: [0, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000],
  startTime: 0,
  endTime: 100_000,
};

/** Each drawn frame by name: its box and tooltip. */
function framesOf(svg: string): Map<string, { x: number; y: number; width: number; fill: string; tooltip: string }> {
  const frames = new Map<string, { x: number; y: number; width: number; fill: string; tooltip: string }>();
  const pattern = /<g><title>([^<]*)<\/title><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" [^>]*fill="([^"]+)"/g;
  for (const [, tooltip = '', x, y, width, fill = ''] of svg.matchAll(pattern)) {
    const name = tooltip.slice(0, tooltip.lastIndexOf(' — '));
    frames.set(name, { x: Number(x), y: Number(y), width: Number(width), fill, tooltip });
  }
  return frames;
}

/**
 * Enough of an XML well-formedness check for what flameGraphSvg writes: one root element, tags
 * that nest, quoted attributes, and no raw "<" or bare "&" in text or attribute values.
 */
function expectWellFormed(svg: string): void {
  const tokens = svg.match(/<[^>]*>|[^<]+/g) ?? [];
  expect(tokens.join('')).toBe(svg); // a "<" without its ">" matches neither
  const bareAmpersand = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-f]+);)/i;
  const open: string[] = [];
  let roots = 0;
  for (const token of tokens) {
    if (!token.startsWith('<')) {
      expect(token, 'text').not.toMatch(bareAmpersand);
      if (open.length === 0) expect(token.trim(), 'text outside the root').toBe('');
      continue;
    }
    const tag = /^<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>$/.exec(token);
    expect(tag, token).not.toBeNull();
    const [, closing, name = '', attributes = '', selfClosing] = tag!;
    expect(attributes, token).not.toMatch(bareAmpersand);
    if (closing) {
      expect(open.pop(), token).toBe(name);
    } else {
      if (open.length === 0) roots++;
      if (!selfClosing) open.push(name);
    }
  }
  expect(open).toEqual([]);
  expect(roots).toBe(1);
}

describe('flame graph of a CPU profile', () => {
  const svg = flameGraphSvg(synthetic, { title: 'synthetic <test> & co', width: 720 });
  const frames = framesOf(svg);

  it('is well-formed XML with an accessible root: role="img" and a <title>', () => {
    expectWellFormed(svg);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*role="img">\n<title>[^<]+<\/title>/);
  });

  it('heads the graph with the title and the sampled time, idle left out', () => {
    expect(svg).toContain('synthetic &lt;test&gt; &amp; co');
    expect(svg).toContain('70.0 ms sampled');
  });

  it('merges identical stacks and makes each frame as wide as its inclusive time', () => {
    expect([...frames.keys()].sort()).toEqual([
      '(garbage collector)',
      'all',
      'alpha a.ts:10',
      'beta&lt;T&gt; &amp; &quot;q&quot; index.js:3',
      'gamma a.ts:21',
    ]);
    const all = frames.get('all')!;
    expect(all.width).toBeCloseTo(700, 2); // 720 less the margins
    const share = (name: string) => frames.get(name)!.width / all.width;
    expect(share('alpha a.ts:10')).toBeCloseTo(40 / 70, 4);
    expect(share('gamma a.ts:21')).toBeCloseTo(30 / 70, 4);
    expect(share('beta&lt;T&gt; &amp; &quot;q&quot; index.js:3')).toBeCloseTo(20 / 70, 4);
    expect(share('(garbage collector)')).toBeCloseTo(10 / 70, 4);
    expect(frames.get('alpha a.ts:10')!.tooltip).toBe('alpha a.ts:10 — 40.0 ms (57.14%), self 10.0 ms');
  });

  it('puts the root at the bottom, callees above callers, siblings sorted by name', () => {
    const gc = frames.get('(garbage collector)')!;
    const alpha = frames.get('alpha a.ts:10')!;
    const beta = frames.get('beta&lt;T&gt; &amp; &quot;q&quot; index.js:3')!;
    const gamma = frames.get('gamma a.ts:21')!;
    expect(frames.get('all')!.y).toBeGreaterThan(alpha.y);
    expect(alpha.y).toBeGreaterThan(gamma.y);
    expect(gc.y).toBe(alpha.y);
    expect(gc.x).toBeLessThan(alpha.x); // "(" sorts before letters
    expect(alpha.x + alpha.width).toBeCloseTo(beta.x, 1);
    expect(gamma.x).toBe(alpha.x);
  });

  it('escapes names everywhere and leaves "(idle)" out', () => {
    expect(svg).not.toContain('beta<T>');
    expect(svg).not.toContain('"q"');
    expect(svg).not.toContain('(idle)');
  });

  it('colours frames by whose code they are, the same way every time', () => {
    const hue = (name: string) => {
      const [r = 0, g = 0, b = 0] = frames.get(name)!.fill.match(/\d+/g)!.map(Number);
      return { r, g, b };
    };
    const own = hue('alpha a.ts:10');
    const dependency = hue('beta&lt;T&gt; &amp; &quot;q&quot; index.js:3');
    const gc = hue('(garbage collector)');
    expect(own.r).toBeGreaterThan(own.g + 40); // red to orange
    expect(dependency.g).toBeGreaterThan(own.g + 40); // yellow
    expect(gc.r === gc.g && gc.g === gc.b).toBe(true); // grey
    expect(flameGraphSvg(synthetic, { title: 'synthetic <test> & co', width: 720 })).toBe(svg);
  });

  it('leaves out frames narrower than minFrameWidth, for a smaller file to publish', () => {
    const all = flameGraphSvg(synthetic, { width: 720 });
    const coarse = flameGraphSvg(synthetic, { width: 720, minFrameWidth: 200 });
    expectWellFormed(coarse);
    expect(coarse.match(/<g>/g)?.length ?? 0).toBeLessThan(all.match(/<g>/g)?.length ?? 0);
    expect(coarse).toContain('alpha');
  });

  it('cuts labels to fit and skips frames too narrow to see', () => {
    // No timeline: 100 ms over 100 000 hits, so "tiny" is 0.001 ms, 0.006 px of 600.
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), hitCount: 0, children: [2, 3] },
        { id: 2, callFrame: frame('aVeryLongFunctionNameIndeed', 'file:///app/src/long.ts', 0), hitCount: 99_999 },
        { id: 3, callFrame: frame('tiny', 'file:///app/src/tiny.ts', 0), hitCount: 1 },
      ],
      startTime: 0,
      endTime: 100_000,
    };
    const narrow = flameGraphSvg(profile, { width: 120 });
    expectWellFormed(narrow);
    expect(narrow).toContain('100 ms sampled');
    expect(narrow).not.toContain('tiny');
    expect(narrow).toMatch(/<text [^>]*>aVeryLongFunc…<\/text>/);
    expect(topSelfTime(profile).map((f) => f.name)).toEqual([
      'aVeryLongFunctionNameIndeed long.ts:1',
      'tiny tiny.ts:1',
    ]);
  });

  it('draws an empty profile as an empty graph', () => {
    const empty = flameGraphSvg({ nodes: [{ id: 1, callFrame: frame('(root)') }], startTime: 0, endTime: 0 });
    expectWellFormed(empty);
    expect(framesOf(empty).size).toBe(0);
  });
});

describe('top self time', () => {
  it('sums each frame over its stacks, hottest first, shares of the sampled time', () => {
    expect(topSelfTime(synthetic)).toEqual([
      { name: 'gamma a.ts:21', selfMs: 30, share: 30 / 70 },
      { name: 'beta<T> & "q" index.js:3', selfMs: 20, share: 20 / 70 },
      { name: '(garbage collector)', selfMs: 10, share: 10 / 70 },
      { name: 'alpha a.ts:10', selfMs: 10, share: 10 / 70 },
    ]);
    expect(topSelfTime(synthetic, 2)).toHaveLength(2);
  });
});

describe('a real profile from node --cpu-prof', () => {
  // A named function spinning for 200 ms: it should be where the time went.
  const script =
    'function spinForFlameGraph() { const end = Date.now() + 200; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }\nspinForFlameGraph();';
  let file = '';
  let profile: CpuProfile;
  beforeAll(() => {
    execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '-e', script]);
    file = join(dir, readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))!);
    profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  });

  it('shows the busy function, as the hottest frame', () => {
    const svg = flameGraphSvg(profile, { title: 'spin' });
    expectWellFormed(svg);
    expect(svg).toContain('spinForFlameGraph');
    const [hottest] = topSelfTime(profile, 1);
    expect(hottest?.name).toMatch(/^spinForFlameGraph /);
    expect(hottest?.share).toBeGreaterThan(0.5);
  });

  it('is drawn and summed by the command line', { timeout: 30_000 }, () => {
    const out = join(dir, 'spin.svg');
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/flame-graph.ts', file, out, 'spin'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8')).toContain('spinForFlameGraph');
    expect(stdout).toMatch(/^\s+[\d.]+\s+[\d.]+%\s+spinForFlameGraph /m);
  });
});
