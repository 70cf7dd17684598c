import type { RouteModule } from './context.js';

/** Every capability's routes, in the order they are registered. Add a line per capability. */
export const routeModules: readonly RouteModule[] = [];
