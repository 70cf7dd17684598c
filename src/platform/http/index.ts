export { createHttpApp, errorBody } from './app.js';
export type { HttpApp, HttpAppOptions } from './app.js';
export { httpStatusOf } from './error-map.js';
