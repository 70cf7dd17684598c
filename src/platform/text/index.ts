export { NUL_REFUSED, pathToNul, wellFormed } from './stored-text.js';
