/**
 * A load-free HTTP client in a process of its own, for latency benches: timing requests from the server's
 * own process puts the client's work (building the request, reading and parsing the answer) on the same
 * event loop, in series with the server's, and counts it as the server's latency. This child sends one
 * request at a time over one keep-alive connection, alternating subject and baseline, and times each from
 * the first byte written to the last byte read. The parent sends the plan over IPC; the child answers
 * with the timings, the status codes seen and each subject answer's body (parsed after timing).
 */
import { Agent, request } from 'node:http';

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpTimingPlan {
  base: string;
  subject: HttpRequestSpec[];
  baseline: HttpRequestSpec;
  iterations: number;
  warmup: number;
}

export interface HttpTimings {
  subject: number[];
  baseline: number[];
  statuses: Record<string, number>;
  subjectBodies: string[];
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function send(base: URL, spec: HttpRequestSpec): Promise<{ ms: number; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method: spec.method,
        path: spec.path,
        agent,
        headers: {
          ...(spec.headers ?? {}),
          ...(spec.body !== undefined ? { 'content-length': String(Buffer.byteLength(spec.body)) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            ms: performance.now() - started,
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(spec.body);
  });
}

async function run(plan: HttpTimingPlan): Promise<HttpTimings> {
  const base = new URL(plan.base);
  const out: HttpTimings = { subject: [], baseline: [], statuses: {}, subjectBodies: [] };
  for (let i = 0; i < plan.warmup + plan.iterations; i++) {
    const s = await send(base, plan.subject[i % plan.subject.length]!);
    const b = await send(base, plan.baseline);
    for (const status of [s.status, b.status]) out.statuses[status] = (out.statuses[status] ?? 0) + 1;
    if (i < plan.warmup) continue;
    out.subject.push(s.ms);
    out.baseline.push(b.ms);
    out.subjectBodies.push(s.body);
  }
  return out;
}

process.once('message', (plan: HttpTimingPlan) => {
  run(plan).then(
    (timings) => process.send?.({ timings }, () => process.exit(0)),
    (err: unknown) => process.send?.({ error: String(err) }, () => process.exit(1)),
  );
});
