#!/usr/bin/env -S node --max-semi-space-size=64
// `npx parley <verb>`: runs the TypeScript CLI through tsx's loader, so no build step stands between a
// fresh clone and a working command.
//
// The young generation is four times V8's default (a 64 MB semi-space; `npm start` and `npm run bench`
// pass the same flag): a bulk import makes short-lived objects for every line, and with the default most
// of them were copied by a scavenge before they died. It took nearly a fifth off an import's user CPU on
// SQLite (docs/benchmarks.md). V8 reads the flag when the process starts, so it is given to node here.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
