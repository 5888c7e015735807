// Two bench results side by side, for the README: the same run on the default profile's engines
// (the dev server, one broker) and on the cluster profile's (bench --stack cluster). An SVG with
// each subject's lifecycles/s and lifecycle p99 on both stacks, and the same figures as a
// Markdown table on stdout, both drawn from the results JSON.
//
//   node --import tsx bench/chart.ts <dev.json> <cluster.json> <out.svg>
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { escapeXml } from '../scripts/trace-picture.js';

interface SubjectFigures {
  perSec: number;
  lifecycleP99Ms: number;
}

interface BenchResult {
  orders: number;
  concurrency: number;
  date: string;
  ratioToYardstick: number | null;
  ratioToBareTemporal: number | null;
  cpuMsPerLifecycle: number | null;
  subjects: Record<string, SubjectFigures | undefined>;
  machine: { nproc: number; cpuModel: string; loadAverageBefore: number[] };
  stack?: { name: string; temporal: string; kafka: string };
}

/** The subjects of a run, in the report's order, with the names the README uses. */
const SUBJECTS: [key: string, label: string][] = [
  ['system', 'order service (HTTP) 1x1'],
  ['yardstick', 'yardstick (frozen)'],
  ['bareTemporal', 'bare Temporal'],
  ['barePostgres', 'bare PostgreSQL'],
  ['bareKafka', 'bare Kafka'],
];
const STACK_COLOURS = ['#4e79a7', '#f28e2b'];
const STACK_NAMES = ['dev', 'cluster'];
const WIDTH = 1060;
const LABEL_WIDTH = 190;
const PANEL_GAP = 40;
const PANEL_WIDTH = (WIDTH - LABEL_WIDTH - PANEL_GAP - 20) / 2;
const BAR_HEIGHT = 14;
const GROUP_HEIGHT = 2 * BAR_HEIGHT + 14;
const TOP = 112;

const stackName = (result: BenchResult, fallback: string) => result.stack?.name ?? fallback;

/**
 * One panel: a bar per stack for each subject. Each subject's bars are scaled to the larger of
 * its two values: the row shows what the stack changes for that subject (bare Kafka's hundred
 * and more per second would otherwise flatten the Temporal subjects' bars).
 */
function panel(
  results: BenchResult[],
  left: number,
  title: string,
  value: (figures: SubjectFigures) => number,
  unit: string,
): string[] {
  const parts = [`<text x="${left}" y="${TOP - 12}" class="title">${escapeXml(title)}</text>`];
  SUBJECTS.forEach(([key], row) => {
    const max = Math.max(1e-9, ...results.map((result) => result.subjects[key]).flatMap((f) => (f ? [value(f)] : [])));
    results.forEach((result, index) => {
      const figures = result.subjects[key];
      if (figures === undefined) return;
      const y = TOP + row * GROUP_HEIGHT + index * BAR_HEIGHT;
      const width = Math.max(1, ((PANEL_WIDTH - 80) * value(figures)) / max);
      parts.push(
        `<rect x="${left}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT - 2}" fill="${STACK_COLOURS[index]}"/>`,
        `<text x="${(left + width + 4).toFixed(1)}" y="${y + BAR_HEIGHT - 4}" class="value">${value(figures)} ${unit}</text>`,
      );
    });
  });
  return parts;
}

export function renderChart(dev: BenchResult, cluster: BenchResult): string {
  const results = [dev, cluster];
  const height = TOP + SUBJECTS.length * GROUP_HEIGHT + 46;
  const legend = results.map((result, index) => {
    const y = 42 + index * 18;
    const text = `${stackName(result, STACK_NAMES[index]!)}: ${result.stack?.temporal ?? '?'}; Kafka: ${result.stack?.kafka ?? '?'}`;
    return (
      `<rect x="10" y="${y}" width="12" height="12" fill="${STACK_COLOURS[index]}"/>` +
      `<text x="28" y="${y + 10}" class="legend">${escapeXml(text)}</text>`
    );
  });
  const labels = SUBJECTS.map(
    ([, label], row) =>
      `<text x="${LABEL_WIDTH - 10}" y="${TOP + row * GROUP_HEIGHT + BAR_HEIGHT + 4}" class="label" text-anchor="end">${escapeXml(label)}</text>`,
  );
  const facts =
    `${dev.orders} lifecycles per subject, ${dev.concurrency} in flight; ${dev.machine.nproc} × ${dev.machine.cpuModel}; ` +
    `load before ${dev.machine.loadAverageBefore[0]} (dev, ${dev.date.slice(0, 16)}Z) and ` +
    `${cluster.machine.loadAverageBefore[0]} (cluster, ${cluster.date.slice(0, 16)}Z); each subject's bars scaled to its larger value`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" role="img">`,
    '<title>Lifecycles per second and lifecycle p99 of each bench subject, on the dev server and on the cluster profile</title>',
    '<style>.title{font-size:14px;font-weight:bold}.label{font-size:12px}.value{font-size:11px;fill:#333}.legend{font-size:11px}.facts{font-size:11px;fill:#666}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    '<text x="10" y="24" class="title">Order lifecycles on the dev server and on a Temporal cluster with a 3-broker Kafka (same bench, same machine)</text>',
    ...legend,
    ...labels,
    ...panel(results, LABEL_WIDTH, 'lifecycles/s (more is better)', (f) => f.perSec, '/s'),
    ...panel(
      results,
      LABEL_WIDTH + PANEL_WIDTH + PANEL_GAP,
      'lifecycle p99 (less is better)',
      (f) => f.lifecycleP99Ms,
      'ms',
    ),
    `<text x="10" y="${height - 14}" class="facts">${escapeXml(facts)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The same figures as a Markdown table, each subject's row with both stacks. */
export function renderTable(dev: BenchResult, cluster: BenchResult): string {
  const cell = (figures: SubjectFigures | undefined) =>
    figures === undefined ? '–' : `${figures.perSec} /s, p99 ${figures.lifecycleP99Ms} ms`;
  const rows = SUBJECTS.map(
    ([key, label]) => `| ${label} | ${cell(dev.subjects[key])} | ${cell(cluster.subjects[key])} |`,
  );
  const ratio = (value: number | null) => (value === null ? '–' : String(value));
  return [
    '| subject: lifecycles/s, lifecycle p99 | dev server, 1 broker | cluster, 3 brokers |',
    '|---|---|---|',
    ...rows,
    `| order service ÷ yardstick | ${ratio(dev.ratioToYardstick)} | ${ratio(cluster.ratioToYardstick)} |`,
    `| order service ÷ bare Temporal | ${ratio(dev.ratioToBareTemporal)} | ${ratio(cluster.ratioToBareTemporal)} |`,
    `| whole-machine CPU ms per lifecycle (order service) | ${ratio(dev.cpuMsPerLifecycle)} | ${ratio(cluster.cpuMsPerLifecycle)} |`,
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [devFile, clusterFile, output] = process.argv.slice(2);
  if (devFile === undefined || clusterFile === undefined || output === undefined) {
    console.error('usage: node --import tsx bench/chart.ts <dev.json> <cluster.json> <out.svg>');
    process.exit(2);
  }
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
  const [dev, cluster] = [read(devFile), read(clusterFile)];
  writeFileSync(output, renderChart(dev, cluster));
  console.log(renderTable(dev, cluster));
  console.error(`${output}: ${dev.stack?.name ?? 'dev'} and ${cluster.stack?.name ?? 'cluster'} side by side`);
}
