import { parseArgs } from 'node:util';
import { demoLogins, seedDemoWorld, type SeedSummary } from '../demo/index.js';
import { migrateToLatest, openStore } from '../platform/database/index.js';
import { isDomainError } from '../platform/errors/index.js';
import { contextOf } from '../parley.js';
import type { Command } from './commands.js';

const USAGE = 'usage: parley seed [--hcps N] [--interactions M] [--seed S]\n';

function positiveInteger(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw.replaceAll('_', ''));
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`--${name} must be a whole number of at least ${min}, not "${raw}"`);
  return value;
}

/** Prints what a seed wrote and how to sign in; shared with `serve`. */
export function describeSeed(summary: SeedSummary, password: string): string {
  const width = Math.max(...demoLogins().map((l) => l.email.length));
  return [
    `Demo world (seed ${summary.seed}): ${summary.hcps} HCPs, ${summary.interactions} interactions ` +
      `(${summary.messages} WhatsApp messages, ${summary.decisions} policy decisions), ${summary.consentEntries} consent entries, ${summary.templates} templates, ${summary.assets} assets, ` +
      `${summary.markets} markets.`,
    `Demo logins (password "${password}" for every one):`,
    ...demoLogins().map((l) => `  ${l.email.padEnd(width)}  ${l.role}`),
    '',
  ].join('\n');
}

export const seedCommand: Command = {
  summary: 'write the demo world into an empty database (--hcps N --interactions M --seed S)',
  async run(args, config) {
    let options;
    try {
      const { values } = parseArgs({
        args,
        options: {
          hcps: { type: 'string' },
          interactions: { type: 'string' },
          seed: { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      });
      options = {
        hcps: positiveInteger('hcps', values.hcps, 1),
        interactions: positiveInteger('interactions', values.interactions, 0),
        seed: positiveInteger('seed', values.seed, 0),
      };
    } catch (error) {
      process.stderr.write(
        `parley seed: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`,
      );
      return 2;
    }

    const store = await openStore(config.databaseUrl);
    try {
      await migrateToLatest(store.db);
      const context = contextOf(config, store);
      const started = performance.now();
      let lastReport = started;
      const summary = await seedDemoWorld(context, {
        ...options,
        onProgress: ({ hcps, interactions }) => {
          const t = performance.now();
          if (t - lastReport < 5_000) return;
          lastReport = t;
          const rss = Math.round(process.memoryUsage.rss() / 1048576);
          process.stderr.write(
            `  … ${hcps} HCPs, ${interactions} interactions (${Math.round((t - started) / 1000)} s, RSS ${rss} MB)\n`,
          );
        },
      });
      const seconds = (performance.now() - started) / 1000;
      // maxRSS is in kilobytes: the peak resident memory of the whole process.
      const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
      process.stdout.write(describeSeed(summary, config.demo.password));
      process.stdout.write(`Seeded in ${seconds.toFixed(1)} s; peak RSS ${peakMb} MB.\n`);
      return 0;
    } catch (error) {
      if (isDomainError(error)) {
        process.stderr.write(`parley seed: ${error.message}\n`);
        return 1;
      }
      throw error;
    } finally {
      await store.close();
    }
  },
};
