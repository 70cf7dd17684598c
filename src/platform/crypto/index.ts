export { createPersonalDataCipher } from './personal-data.js';
export type { PersonalDataCipher } from './personal-data.js';
export { hashPassword, hashToken, newToken, verifyPassword } from './passwords.js';
export { newId, newIds } from './ids.js';
