export { DIALECTS, openTestStore, TEST_POSTGRES_URL } from './stores.js';
export type { TestStore } from './stores.js';
export {
  bareAssetRow,
  bareHcpRow,
  bareMessageRow,
  bareTemplateRow,
  buildTestWorld,
  TEST_PASSWORD,
} from './world.js';
export type { TestWorld } from './world.js';
export { startTestParley, TEST_APP_SECRET } from './parley.js';
export type { TestParley } from './parley.js';
export { childEnvironment } from './child-env.js';
export { queryPlan } from './query-plan.js';
export { racingAfterFirstRead } from './racing.js';
