// Rot guard of `npm run bench`: its --quick run (50 lifecycles at concurrency 8, every part
// short) end to end, as a child process, then a tiny `--compare HEAD` (the committed order
// service in a worktree against the working tree's). It checks that the results files have their
// fields and that nothing was lost or duplicated; it asserts no timings (those are the
// benchmark's to print, not a test's to judge).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(output: string, args: string[] = ['--quick']): Promise<{ code: number | null; log: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args, '--output', output], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, log }));
  });
}

describe('npm run bench -- --quick (N = 50, C = 8)', () => {
  it('measures the order service and its baselines, and loses and duplicates nothing', {
    timeout: 240_000,
  }, async () => {
    const output = join(dir, 'results.json');
    const { code, log } = await runBench(output);
    expect(code, log).toBe(0);
    const result = JSON.parse(readFileSync(output, 'utf8'));

    expect(result).toMatchObject({ orders: 50, concurrency: 8, lost: 0, duplicated: 0, failed: 0 });
    // PostgreSQL's top statements of the run, or why not (a server started before pg_stat_statements was preloaded).
    const { pgStatStatements } = result;
    if (pgStatStatements.available) {
      expect(pgStatStatements.top.length, JSON.stringify(pgStatStatements)).toBeGreaterThan(0);
      expect(pgStatStatements.top[0]).toMatchObject({ query: expect.any(String), calls: expect.any(Number) });
    } else {
      expect(pgStatStatements.reason).toMatch(/pg_stat_statements/);
    }
    for (const field of [
      'lifecyclesPerSec',
      'yardstickPerSec',
      'ratioToYardstick',
      'cpuMsPerLifecycle',
      'bareCpuMsPerLifecycle',
      'yardstickCpuMsPerLifecycle',
      'workerCpuMsPerLifecycle',
      'yardstickWorkerCpuMsPerLifecycle',
      'workerCpuToYardstick',
      'yardstickWorkerRssMb',
      'workerRssToYardstick',
      'bareTemporalPerSec',
      'ratioToBareTemporal',
      'createP50Ms',
      'createP99Ms',
      'bareStartP99Ms',
      'lifecycleP99Ms',
      'apiRssMb',
      'workerRssMb',
      'barePostgresPerSec',
      'bareKafkaPerSec',
      'transitionP50Ms',
      'transitionP99Ms',
      'bareTransitionP50Ms',
      'bareTransitionP99Ms',
    ]) {
      expect(result[field], field).toEqual(expect.any(Number));
      expect(result[field], field).toBeGreaterThan(0);
    }
    // The measured orders, the warm-up ones and the open-loop ones, each with OrderCreated and its ending command's events.
    const placed =
      50 +
      result.warmup +
      result.openLoop.reduce((sum: number, entry: { lifecycles: number }) => sum + entry.lifecycles, 0);
    expect(result.verification).toMatchObject({ ordersChecked: placed, eventsMissing: 0 });
    expect(result.verification.eventsExpected).toBeGreaterThanOrEqual(2 * placed);
    expect(result.machine).toMatchObject({ nproc: expect.any(Number), cpuModel: expect.any(String) });
    expect(result.machine.node).toBe(process.version);
    expect(Date.parse(result.date)).not.toBeNaN();
    // The table on the terminal.
    expect(log).toContain('order service (HTTP)');
    expect(log).toContain('bare Temporal');
    // 1 API × 1 worker and 2 × 2 on one task queue, each checked for lost and duplicated events.
    expect(result.topologies.map((entry: { topology: string }) => entry.topology)).toEqual(['1x1', '2x2']);
    for (const entry of result.topologies) expect(entry).toMatchObject({ lost: 0, duplicated: 0, failed: 0 });
    expect(log).toContain('order service (HTTP) 2x2');
    // The frozen yardstick ran beside the order service, in its own worker.
    expect(log).toContain('yardstick (frozen)');
    // Open loop at 25, 50 and 75 % of the capacity just measured, both subjects at each rate.
    expect(result.openLoop.map((entry: { loadPercent: number }) => entry.loadPercent)).toEqual([25, 50, 75]);
    for (const entry of result.openLoop) {
      expect(entry.ratePerSec).toBeCloseTo((result.lifecyclesPerSec * entry.loadPercent) / 100, 1);
      for (const field of ['createP50Ms', 'createP99Ms', 'transitionP99Ms', 'bareStartP50Ms', 'bareStartP99Ms']) {
        expect(entry[field], `${entry.loadPercent} % ${field}`).toBeGreaterThan(0);
      }
      expect(entry.failed).toBe(0);
    }
    // Transitions among many open orders: two levels, each with its confirms timed and the worker's RSS.
    expect(result.openOrders.map((level: { openOrders: number }) => level.openOrders)).toEqual([150, 300]);
    for (const level of result.openOrders) {
      expect(level).toMatchObject({ transitions: 20, failed: 0 });
      expect(level.transitionP99Ms).toBeGreaterThan(0);
      expect(level.workerRssMb).toBeGreaterThan(0);
    }
    expect(Object.keys(result.targets)).toEqual(
      expect.arrayContaining([
        'ratioToYardstick',
        'workerCpuToYardstick',
        'workerRssToYardstick',
        'openLoopCreateP99AtHalf',
        'openOrdersTransitionP99',
        'cpuPerLifecycle',
      ]),
    );
    // Reading at scale: every query timed, and no listing reads the whole orders table.
    // Tracing exported vs off, in the same run: both measured, every span received, nothing lost.
    for (const mode of ['off', 'exported']) {
      expect(result.tracing[mode].perSec, mode).toBeGreaterThan(0);
      expect(result.tracing[mode].verification, mode).toMatchObject({ lost: 0, duplicated: 0 });
    }
    expect(result.tracing.exportedToOff).toBeGreaterThan(0);
    expect(result.tracing.spansExported).toBeGreaterThan(20 * 10);
    expect(log).toContain('Tracing (two 1x1 services taking turns');

    expect(result.listing).toMatchObject({ rows: 20000, readers: 4 });
    for (const name of ['byId', 'customerFirstPage', 'deepPage', 'statusAndDates']) {
      expect(result.listing.queries[name].p99Ms, name).toBeGreaterThan(0);
    }
    for (const [name, plan] of Object.entries(result.listing.plans as Record<string, string[]>)) {
      expect(plan.join('\n'), name).toMatch(/Index|Bitmap/);
      expect(plan.join('\n'), name).not.toMatch(/Seq Scan on orders/);
    }
  });
});

describe('npm run bench -- --compare HEAD (N = 20, C = 4)', () => {
  it('runs the committed order service and the working tree in turns, each on its own database, and compares them', {
    timeout: 180_000,
  }, async () => {
    const output = join(dir, 'compare.json');
    const { code, log } = await runBench(output, ['--compare', 'HEAD', '--orders', '20', '--concurrency', '4']);
    expect(code, log).toBe(0);
    const result = JSON.parse(readFileSync(output, 'utf8'));
    expect(result).toMatchObject({ orders: 20, concurrency: 4, lost: 0, duplicated: 0, failed: 0 });
    expect(result.compare).toMatchObject({ ref: 'HEAD', commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
    for (const side of ['base', 'head']) {
      const figures = result.compare[side];
      expect(figures, side).toMatchObject({ lost: 0, duplicated: 0, failed: 0, lifecycles: 20 });
      for (const field of [
        'lifecyclesPerSec',
        'workerCpuMsPerLifecycle',
        'workerPeakRssMb',
        'createP99Ms',
        'transitionP99Ms',
      ]) {
        expect(figures[field], `${side} ${field}`).toBeGreaterThan(0);
      }
      // Warm-up and measured orders, each checked in the side's own database and on Kafka.
      expect(figures.verification, side).toMatchObject({ ordersChecked: 20 + result.warmup, eventsMissing: 0 });
    }
    for (const ratio of [
      'lifecyclesPerSec',
      'workerCpuMsPerLifecycle',
      'workerPeakRssMb',
      'createP99Ms',
      'transitionP99Ms',
    ]) {
      expect(result.compare.ratios[ratio], ratio).toBeGreaterThan(0);
    }
    expect(log).toContain('head ÷ base');
    // Nothing left behind: the worktree is gone.
    expect(execFileSync('git', ['worktree', 'list'], { cwd: ROOT, encoding: 'utf8' })).not.toContain(
      'order-bench-compare-',
    );
  });
});

describe('npm run bench -- --reads-only 2 --listing-rows 3000 --listing-archived 2000', () => {
  it('archives the oldest orders into the archive tables, then times every read twice on the hot rest', {
    timeout: 180_000,
  }, async () => {
    const output = join(dir, 'reads.json');
    const args = ['--reads-only', '2', '--listing-rows', '3000', '--listing-archived', '2000'];
    const { code, log } = await runBench(output, args);
    expect(code, log).toBe(0);
    const result = JSON.parse(readFileSync(output, 'utf8'));
    expect(result.listing).toMatchObject({
      rows: 3000,
      archived: 2000,
      tableRows: { orders: 1000, ordersArchive: 2000 },
      readers: 4,
    });
    expect(result.listing.runs).toHaveLength(2);
    expect(result.worstP99s).toHaveLength(2);
    for (const queries of result.listing.runs) {
      for (const name of ['byId', 'customerFirstPage', 'deepPage', 'statusAndDates', 'holdOverdue', 'rareStatus']) {
        expect(queries[name].p99Ms, name).toBeGreaterThan(0);
      }
    }
    for (const [name, plan] of Object.entries(result.listing.plans as Record<string, string[]>)) {
      expect(plan.join('\n'), name).not.toMatch(/Seq Scan on orders|orders_archive/);
    }
    expect(log).toMatch(/reads over 1000 hot orders \(2000 archived\)/);
  });
});
