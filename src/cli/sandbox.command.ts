import { parseArgs } from 'node:util';
import { openStore, migrateToLatest } from '../platform/database/index.js';
import {
  httpWebhookDelivery,
  portfolioMessagingLimit,
  sandboxNumbers,
  startStandaloneSandbox,
  templatesApprovedAtMeta,
} from '../whatsapp/index.js';
import type { Command } from './commands.js';

export const sandboxCommand: Command = {
  summary:
    'run the Cloud API stand-in alone: --port N --webhook URL [--messaging-limit N|unlimited] (templates from PARLEY_DATABASE_URL)',
  async run(args, config) {
    const { values } = parseArgs({
      args,
      options: {
        port: { type: 'string' },
        webhook: { type: 'string' },
        'messaging-limit': { type: 'string' },
      },
      strict: true,
    });
    const port = Number(values.port ?? '4010');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be a port number');
    const limitArg = values['messaging-limit'];
    const messagingLimit = limitArg === undefined || limitArg === 'unlimited' ? limitArg : Number(limitArg);
    if (typeof messagingLimit === 'number' && !(Number.isInteger(messagingLimit) && messagingLimit > 0))
      throw new Error('--messaging-limit must be a positive whole number or "unlimited"');
    if (!values.webhook)
      throw new Error('--webhook URL is required (e.g. http://127.0.0.1:8080/webhooks/whatsapp)');
    const store = await openStore(config.databaseUrl);
    await migrateToLatest(store.db);
    const running = await startStandaloneSandbox({
      port,
      accessToken: config.whatsapp.accessToken,
      appSecret: config.whatsapp.appSecret,
      deliverWebhook: httpWebhookDelivery(values.webhook),
      templates: () => templatesApprovedAtMeta(store.db),
      numbers: () => sandboxNumbers(store.db, config.whatsapp.phoneNumberId),
      // Meta's tier for the portfolio: the flag, else the highest limit the database holds for a number.
      messagingLimit: messagingLimit ?? (() => portfolioMessagingLimit(store.db)),
      replies: { enabled: config.whatsapp.sandboxReplies },
    });
    process.stdout.write(
      `Cloud API stand-in at ${running.baseUrl} (use it as WHATSAPP_API_BASE); webhooks to ${values.webhook}\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await running.close();
    await store.close();
    return 0;
  },
};
