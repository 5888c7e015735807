// CPU time used by each part of the stack during a phase, from /proc (Linux): tells what a
// lifecycle costs where, and how much of the machine other work took meanwhile.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stackPidFiles } from './stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TICKS_PER_SECOND = 100;

function statFields(pid: number | string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime (+ children's, when `withChildren`) of a process, in seconds. */
function cpuSecondsOf(pid: number | string | undefined, withChildren = false): number {
  if (pid === undefined) return 0;
  const fields = statFields(pid);
  if (fields === undefined) return 0;
  // After the name: state is index 0, utime 11, stime 12, cutime 13, cstime 14.
  const ticks = (index: number) => Number(fields[index] ?? 0);
  const own = ticks(11) + ticks(12);
  return (withChildren ? own + ticks(13) + ticks(14) : own) / TICKS_PER_SECOND;
}

/** CPU seconds a process has used since it started (0 once it is gone). */
export const processCpuSeconds = (pid: number | undefined): number => cpuSecondsOf(pid);

function pidFile(relative: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${ROOT}${relative}`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function pidsNamed(name: string): string[] {
  const pids: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(entry);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Busy and total CPU seconds of the whole machine (all cores). */
function machineSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

export type CpuSnapshot = Record<string, number> & { machineBusy: number; machineTotal: number };

/**
 * CPU seconds so far of Temporal, Kafka, PostgreSQL, this process, and the given child
 * processes (several pids under one name are added up: the APIs of a topology, its workers).
 */
export function cpuSnapshot(children: Record<string, number | undefined | (number | undefined)[]> = {}): CpuSnapshot {
  // PostgreSQL: every backend alive, plus what exited backends left in the postmaster's children time.
  const postgres = pidsNamed('postgres');
  const postmaster = postgres.reduce<string | undefined>(
    (lowest, pid) => (lowest === undefined || Number(pid) < Number(lowest) ? pid : lowest),
    undefined,
  );
  const machine = machineSeconds();
  // The stack's processes: one of each (dev server), or Temporal's four services and three brokers (cluster).
  const pidFiles = stackPidFiles();
  const snapshot: CpuSnapshot = {
    temporal: pidFiles.temporal.reduce((sum, file) => sum + cpuSecondsOf(pidFile(file), true), 0),
    kafka: pidFiles.kafka.reduce((sum, file) => sum + cpuSecondsOf(pidFile(file)), 0),
    postgres: postgres.reduce((sum, pid) => sum + cpuSecondsOf(pid, pid === postmaster), 0),
    bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    machineBusy: machine.busy,
    machineTotal: machine.total,
  };
  for (const [name, pids] of Object.entries(children)) {
    snapshot[name] = [pids].flat().reduce<number>((sum, pid) => sum + cpuSecondsOf(pid), 0);
  }
  return snapshot;
}

/** CPU seconds used by each part between two snapshots (machineBusy/machineTotal included). */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const name of Object.keys(after)) delta[name] = Math.max(0, (after[name] ?? 0) - (before[name] ?? 0));
  return delta;
}

/** Adds `delta` into `total`, part by part. */
export function addCpu(total: Record<string, number>, delta: Record<string, number>): void {
  for (const [name, seconds] of Object.entries(delta)) total[name] = (total[name] ?? 0) + seconds;
}

/**
 * CPU milliseconds per lifecycle of each part, `other` for the rest of the machine (other
 * people's work, the kernel), and the share of the machine that was busy meanwhile; whole
 * milliseconds unless `decimals` (an archived order costs a few).
 */
export function cpuPerLifecycle(
  used: Record<string, number>,
  lifecycles: number,
  decimals = 0,
): Record<string, number> {
  const scale = 10 ** decimals;
  const msEach = (seconds: number) => Math.round((seconds * 1000 * scale) / Math.max(1, lifecycles)) / scale;
  const result: Record<string, number> = {};
  let known = 0;
  for (const [name, seconds] of Object.entries(used)) {
    if (name === 'machineBusy' || name === 'machineTotal') continue;
    known += seconds;
    result[name] = msEach(seconds);
  }
  const busy = used.machineBusy ?? 0;
  result.other = msEach(Math.max(0, busy - known));
  result.machineBusyPercent = Math.round((busy / Math.max(1e-9, used.machineTotal ?? 0)) * 100);
  return result;
}
