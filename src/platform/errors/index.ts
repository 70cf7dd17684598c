export { DomainError, isDomainError, notFound } from './domain-error.js';
export type { ErrorCode } from './domain-error.js';
