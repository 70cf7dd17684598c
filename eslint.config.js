// One lint config for the whole repo. The house rules of DESIGN.md that a linter can hold are here:
// no default exports, no deep imports into another capability (only through its index.ts), type-only
// imports marked as such.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const capabilities = [
  'platform',
  'identity',
  'hcps',
  'consent',
  'content',
  'policy',
  'messaging',
  'whatsapp',
  'engagement',
  'assistant',
  'audit',
  'privacy',
  'cli',
  'demo',
];

/** Forbid `../<capability>/<anything but index.js>` so capabilities meet only through their public face. */
const deepImportPatterns = [
  ...capabilities
    .filter((name) => name !== 'platform')
    .map((name) => ({
      group: [`../${name}/*`, `!../${name}/index.js`, `../../${name}/*`, `!../../${name}/index.js`],
      message: `Import ${name} through its index.ts (its public face), not a file inside it.`,
    })),
  // platform is a shelf of small parts (config, database, http, ...): each part has its own index.ts.
  {
    group: ['../platform/*/*', '!../platform/*/index.js', '../../platform/*/*', '!../../platform/*/index.js'],
    message: 'Import a platform part through its index.ts.',
  },
];

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'data', 'coverage', 'web/dist'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration through src/platform/config.',
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/platform/database/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: deepImportPatterns }] },
  },
  {
    files: ['src/platform/config/**', 'bench/**', 'vitest.config.ts', 'src/test-support/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
      ],
    },
  },
  { files: ['vitest.config.ts', 'eslint.config.js'], rules: { 'no-restricted-syntax': 'off' } },
);
