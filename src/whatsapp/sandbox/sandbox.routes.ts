import type { RouteModule } from '../../context.js';
import { createCloudApiSandbox, type CloudApiSandbox } from './cloud-api-sandbox.js';
import { portfolioMessagingLimit, sandboxNumbers, templatesApprovedAtMeta } from './sandbox.store.js';

/**
 * Mounts the Cloud API stand-in at /sandbox when WHATSAPP_API_BASE is unset (the demo and the tests).
 * Its webhooks go to Parley's own /webhooks/whatsapp: over real HTTP once the server listens, else
 * through Fastify's injector, with the same signed bytes either way.
 */
export const registerCloudApiSandbox: RouteModule = async (app, ctx) => {
  if (ctx.config.whatsapp.apiBase !== undefined) return undefined;
  const sandbox = createCloudApiSandbox({
    accessToken: ctx.config.whatsapp.accessToken,
    appSecret: ctx.config.whatsapp.appSecret,
    templates: () => templatesApprovedAtMeta(ctx.db),
    numbers: () => sandboxNumbers(ctx.db, ctx.config.whatsapp.phoneNumberId),
    messagingLimit: () => portfolioMessagingLimit(ctx.db),
    // On in the demo (PARLEY_SANDBOX_REPLIES follows PARLEY_DEMO unless set), off in tests.
    replies: { enabled: ctx.config.whatsapp.sandboxReplies },
    async deliverWebhook(body, signature) {
      const headers = { 'content-type': 'application/json', 'x-hub-signature-256': signature };
      const address = app.server.listening ? app.server.address() : null;
      if (address && typeof address === 'object') {
        const response = await fetch(`http://127.0.0.1:${address.port}/webhooks/whatsapp`, {
          method: 'POST',
          headers,
          body,
        });
        await response.arrayBuffer();
        return response.status;
      }
      const response = await app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        headers,
        payload: body,
      });
      return response.statusCode;
    },
  });
  sandboxes.set(ctx, sandbox);
  await app.register(async (scope) => sandbox.register(scope), { prefix: '/sandbox' });
  return async () => sandbox.close();
};

const sandboxes = new WeakMap<object, CloudApiSandbox>();

/** The stand-in mounted for a Parley context, if any (tests and the demo drive it directly). */
export function mountedSandbox(ctx: object): CloudApiSandbox | undefined {
  return sandboxes.get(ctx);
}
