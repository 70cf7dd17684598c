import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { machineLine, type BenchModule } from './bench-kit.js';

/**
 * `npm run bench [-- name …]`: runs every `bench/*.bench.ts` (or the named ones) one after another and
 * rewrites their sections of docs/benchmarks.md. Each section sits between `<!-- bench:<name> -->` and
 * `<!-- /bench:<name> -->`; everything outside those markers (hand-written figures, notes) is kept as it is.
 */

const here = dirname(fileURLToPath(import.meta.url));
const documentPath = join(here, '..', 'docs', 'benchmarks.md');

const HEADER = `# Benchmarks

Figures from \`npm run bench\` (bench/run.ts; how to add one: bench/README.md). These machines are shared
and noisy, so each section compares what it measures with a baseline measured in the same run, and the
ratios are the figures to read; absolute times are there for scale. Sections between \`bench:\` markers are
rewritten by the harness; the rest of this page is written by hand.
`;

function readDocument(): string {
  try {
    return readFileSync(documentPath, 'utf8');
  } catch {
    return HEADER;
  }
}

async function loadModules(): Promise<BenchModule[]> {
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort();
  const modules: BenchModule[] = [];
  for (const file of files) {
    const loaded = (await import(pathToFileURL(join(here, file)).href)) as { bench?: BenchModule };
    const bench = loaded.bench;
    if (!bench || typeof bench.run !== 'function' || !bench.name || !bench.title)
      throw new Error(`${file} must export \`bench\`: { name, title, run() } (see bench/README.md)`);
    modules.push(bench);
  }
  return modules;
}

/** Puts `body` between the module's markers, replacing what was there, or appends it. */
function replaceSection(document: string, name: string, body: string): string {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const i = document.indexOf(start);
  const j = document.indexOf(end);
  if (i >= 0 && j > i) return document.slice(0, i) + block + document.slice(j + end.length);
  return `${document.trimEnd()}\n\n${block}\n`;
}

async function main(names: string[]): Promise<number> {
  const modules = await loadModules();
  const unknown = names.filter((n) => !modules.some((m) => m.name === n));
  if (unknown.length) {
    process.stderr.write(
      `unknown bench: ${unknown.join(', ')}; known: ${modules.map((m) => m.name).join(', ')}\n`,
    );
    return 2;
  }
  const selected = names.length ? modules.filter((m) => names.includes(m.name)) : modules;
  for (const module of selected) {
    process.stderr.write(`bench ${module.name}: running\n`);
    const machine = machineLine();
    const started = performance.now();
    const body = await module.run({ log: (line) => process.stderr.write(`  ${module.name}: ${line}\n`) });
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    const section = [
      `## ${module.title}`,
      '',
      `Command: \`npm run bench -- ${module.name}\` · measured ${new Date().toISOString().slice(0, 16)}Z in ${seconds} s · ${machine}.`,
      '',
      body.trim(),
    ].join('\n');
    // Read just before writing (another run, or a hand edit, may have changed the page while this module
    // ran) and written after each module, so a long run that fails later keeps what it measured.
    writeFileSync(documentPath, replaceSection(readDocument(), module.name, section));
    process.stderr.write(`bench ${module.name}: done in ${seconds} s\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
