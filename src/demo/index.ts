export { DEMO_MARKETS, DEMO_PRODUCTS, DEMO_TERRITORIES, DEMO_USERS } from './demo-catalogue.js';
export type { DemoMarket, DemoProduct, DemoTerritory, DemoUser } from './demo-catalogue.js';
export { CONSENT_PROFILES, consentEntriesFor, demoHcp, interactionCountFor } from './demo-world.js';
export type { ConsentProfile, DemoHcp, DemoWorldOptions } from './demo-world.js';
export {
  DEFAULT_DEMO_HCPS,
  DEFAULT_INTERACTIONS_PER_HCP,
  demoLogins,
  isStoreEmpty,
  seedDemoWorld,
} from './demo.store.js';
export type { SeedOptions, SeedSummary } from './demo.store.js';
