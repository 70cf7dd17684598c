import { registerCaseRoutes } from './assistant/index.js';
import { registerAuditRoutes } from './audit/index.js';
import { registerConsentRoutes } from './consent/index.js';
import { registerContentRoutes } from './content/index.js';
import type { RouteModule } from './context.js';
import { registerEngagementRoutes } from './engagement/index.js';
import { registerHcpRoutes } from './hcps/index.js';
import { registerIdentityRoutes } from './identity/index.js';
import { registerMessagingRoutes } from './messaging/index.js';
import { registerRulebookRoutes } from './policy/index.js';
import { registerPrivacyRoutes } from './privacy/index.js';
import { registerCloudApiSandbox, registerWhatsappRoutes } from './whatsapp/index.js';

/** Every capability's routes, in the order they are registered. Add a line per capability. */
export const routeModules: readonly RouteModule[] = [
  registerIdentityRoutes,
  registerHcpRoutes,
  registerEngagementRoutes,
  registerConsentRoutes,
  registerContentRoutes,
  registerCloudApiSandbox,
  registerWhatsappRoutes,
  registerCaseRoutes,
  registerAuditRoutes,
  registerRulebookRoutes,
  registerMessagingRoutes,
  registerPrivacyRoutes,
];
