import { fork } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { HttpTimingPlan, HttpTimings } from './http-client.child.js';

/**
 * What a bench module is: `bench/<name>.bench.ts` exports `bench` of this shape, and `npm run bench`
 * (bench/run.ts) finds it, runs it and writes the markdown it returns into docs/benchmarks.md.
 */
export interface BenchModule {
  /** Short, kebab-case; `npm run bench -- <name>` runs this module alone. */
  name: string;
  /** The section heading in docs/benchmarks.md. */
  title: string;
  /** Measures and returns the section's body (markdown, without the heading). */
  run(context: BenchContext): Promise<string>;
}

export interface BenchContext {
  /** A progress line on stderr (not written to the document). */
  log(line: string): void;
}

/** Median, 95th percentile and mean of durations in milliseconds. */
export interface Summary {
  n: number;
  median: number;
  p95: number;
  mean: number;
}

export function summarise(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return {
    n: sorted.length,
    median: at(0.5),
    p95: at(0.95),
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
  };
}

/** Times `iterations` sequential calls of `fn` after `warmup` untimed ones; milliseconds per call. */
export async function timeCalls(
  fn: () => Promise<unknown>,
  iterations: number,
  warmup = 5,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  return samples;
}

/**
 * Times `subject` and `baseline` in alternation (one call of each per round), so a burst of load from
 * the rest of the machine hits both alike and their ratio stays meaningful. Milliseconds per call.
 */
export async function timeAlternating(
  subject: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  iterations: number,
  warmup = 5,
): Promise<{ subject: number[]; baseline: number[] }> {
  for (let i = 0; i < warmup; i++) {
    await subject();
    await baseline();
  }
  const out = { subject: [] as number[], baseline: [] as number[] };
  for (let i = 0; i < iterations; i++) {
    let started = performance.now();
    await subject();
    out.subject.push(performance.now() - started);
    started = performance.now();
    await baseline();
    out.baseline.push(performance.now() - started);
  }
  return out;
}

export const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1));
export const ratio = (value: number, baseline: number) => `${(value / baseline).toFixed(1)}×`;

/** A markdown table from a header row and body rows. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** The machine a section was measured on, in one line: figures are only comparable on the same one. */
export function machineLine(): string {
  const cpu = cpus();
  const load = loadavg().map((l) => l.toFixed(1));
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, load average ${load.join(' / ')} at the start`;
}

/**
 * `timeAlternating` for HTTP routes, with the client in a child process of its own (bench/http-client.child.ts),
 * so the figures are the server's latency as a client sees it, not the server's plus the client's work
 * done on the same event loop.
 */
export async function timeAlternatingHttp(plan: HttpTimingPlan): Promise<HttpTimings> {
  const child = fork(fileURLToPath(new URL('./http-client.child.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const answer = await new Promise<{ timings?: HttpTimings; error?: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { timings?: HttpTimings; error?: string }));
    child.once('exit', (code) => reject(new Error(`the HTTP client exited (${code}) before answering`)));
    child.send(plan);
  });
  if (!answer.timings) throw new Error(`the HTTP client failed: ${answer.error}`);
  return answer.timings;
}
