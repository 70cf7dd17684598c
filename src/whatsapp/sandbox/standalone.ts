import Fastify, { type FastifyInstance } from 'fastify';
import { createCloudApiSandbox, type CloudApiSandbox, type SandboxOptions } from './cloud-api-sandbox.js';

export interface StandaloneSandbox {
  readonly sandbox: CloudApiSandbox;
  readonly server: FastifyInstance;
  /** e.g. http://127.0.0.1:4010 — what a client uses as its base URL (like https://graph.facebook.com). */
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** Delivers webhooks over real HTTP to a receiver, as Meta does. */
export function httpWebhookDelivery(webhookUrl: string): SandboxOptions['deliverWebhook'] {
  return async (body, signature) => {
    const response = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
      body,
      signal: AbortSignal.timeout(20_000),
    });
    await response.arrayBuffer();
    return response.status;
  };
}

/** The stand-in on a port of its own (`parley sandbox`), served at the root like graph.facebook.com. */
export async function startStandaloneSandbox(
  options: SandboxOptions & { port: number; host?: string },
): Promise<StandaloneSandbox> {
  const sandbox = createCloudApiSandbox(options);
  const server = Fastify({ logger: false });
  await server.register(async (scope) => sandbox.register(scope));
  const address = await server.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  return {
    sandbox,
    server,
    baseUrl: address.replace('localhost', '127.0.0.1'),
    async close() {
      sandbox.close();
      await server.close();
    },
  };
}
