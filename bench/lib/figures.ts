// What a subject measured and how it reads: its samples summed up, its CPU per lifecycle, ratios
// between subjects, the machine it ran on, and the tables the figures print in.
import os from 'node:os';
import { emptySamples, type Samples } from './phases.js';
import { overallRate, percentile, round, sustainedRate } from './stats.js';

/** What one subject measured: its timings, and the CPU each part used meanwhile. */
export interface Measured {
  samples: Samples;
  cpu: Record<string, number>;
}
export const emptyMeasured = (): Measured => ({ samples: emptySamples(), cpu: {} });
export const lifecyclesOf = ({ samples }: Measured) => samples.lifecycleMs.length + samples.failures.length;

/** CPU of one part (`worker`, `api`) per lifecycle of a subject, in ms. */
export const processCpuMs = (measured: Measured | undefined, part: string) =>
  measured === undefined || lifecyclesOf(measured) === 0 || measured.cpu[part] === undefined
    ? undefined
    : round(((measured.cpu[part] ?? 0) * 1000) / lifecyclesOf(measured), 1);

/** Busy CPU of the whole machine (every process and the kernel) per lifecycle of a subject, in ms. */
export const machineCpuMs = (measured: Measured | undefined) =>
  measured === undefined || lifecyclesOf(measured) === 0
    ? undefined
    : round(((measured.cpu.machineBusy ?? 0) * 1000) / lifecyclesOf(measured), 1);

export function summarize(samples: Samples) {
  return {
    perSec: round(sustainedRate(samples.chunks)),
    overallPerSec: round(overallRate(samples.chunks)),
    startP50Ms: round(percentile(samples.startMs, 50)),
    startP95Ms: round(percentile(samples.startMs, 95)),
    startP99Ms: round(percentile(samples.startMs, 99)),
    transitionP50Ms: round(percentile(samples.transitionMs, 50)),
    transitionP99Ms: round(percentile(samples.transitionMs, 99)),
    lifecycleP50Ms: round(percentile(samples.lifecycleMs, 50)),
    lifecycleP99Ms: round(percentile(samples.lifecycleMs, 99)),
    completed: samples.lifecycleMs.length,
    failed: samples.failures.length,
  };
}
export type Summary = ReturnType<typeof summarize>;

export const ratioOf = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b <= 0 ? undefined : round(a / b, 2);

/** The machine a run's figures came from, and how loaded it was before and after. */
export function machineFacts(loadAverageBefore: number[]) {
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverageBefore,
    loadAverageAfter: os.loadavg().map((value) => round(value, 2)),
  };
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => String(row[column] ?? '').length))) ?? [];
  const cell = (value: string | number, column: number) =>
    column === 0 ? String(value).padEnd(widths[column] ?? 0) : String(value).padStart(widths[column] ?? 0);
  const line = (row: (string | number)[]) => `| ${row.map(cell).join(' | ')} |`;
  const [head, ...body] = rows;
  if (head === undefined) return '';
  return [line(head), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export const orDash = (value: number | null | undefined) => (value === undefined || value === null ? '-' : value);
