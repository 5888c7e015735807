// --profile: the order worker's CPU profiles, as V8 wrote them, renamed after the results and
// drawn as flame graphs (scripts/flame-graph.ts).
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flameGraphSvg } from '../../scripts/flame-graph.js';

/**
 * The CPU profiles V8 wrote into `dir` for the worker process `pid` when it exited (`--cpu-prof`:
 * one per thread, CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile), renamed after the results
 * (`<stem>.worker.cpuprofile`) and drawn as flame graphs: the newest (the main thread's, written
 * last: activities, clients, the SDK's plumbing) at `<stem>.worker.svg`, each other thread's
 * (the workflow threads, where the workflow code runs) at `<stem>.worker.thread-<n>.svg`.
 */
export function drawProfiles(
  dir: string,
  pid: number | undefined,
  since: number,
  stem: string,
  log: (message: string) => void,
) {
  const files = readdirSync(dir)
    .filter((name) => /^CPU\..*\.cpuprofile$/.test(name) && (pid === undefined || name.split('.')[3] === String(pid)))
    .map((name) => ({ name, path: join(dir, name), mtime: statSync(join(dir, name)).mtimeMs }))
    .filter((file) => file.mtime >= since)
    .sort((a, b) => b.mtime - a.mtime);
  if (files.length === 0) {
    log(`--profile: no .cpuprofile of the worker (pid ${pid}) in ${dir}: did it exit cleanly?`);
    return undefined;
  }
  const drawn = files.map((file, index) => {
    const thread = file.name.split('.')[4] ?? String(index);
    const suffix = index === 0 ? 'worker' : `worker.thread-${thread}`;
    const cpuProfile = `${stem}.${suffix}.cpuprofile`;
    const flameGraph = `${stem}.${suffix}.svg`;
    renameSync(file.path, cpuProfile);
    const title = `order worker CPU profile, ${index === 0 ? 'main thread' : `thread ${thread} (workflows)`} (${file.name})`;
    writeFileSync(flameGraph, flameGraphSvg(JSON.parse(readFileSync(cpuProfile, 'utf8')), { title }));
    return { thread: Number(thread), cpuProfile, flameGraph };
  });
  const [main, ...threads] = drawn;
  return { cpuProfile: main?.cpuProfile, flameGraph: main?.flameGraph, threads };
}

export type Profiled = ReturnType<typeof drawProfiles>;
