export { ConfigError, parseConfig, readConfigFromEnvironment, secretsOf } from './config.js';
export type { Config } from './config.js';
