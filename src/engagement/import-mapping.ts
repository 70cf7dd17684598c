import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { DomainError } from '../platform/errors/index.js';
import { importMappingSchema, type ImportMapping } from './import-records.js';

/** The mapping files shipped in docs/crm-mapping (Veeva CRM and Salesforce export field names). */
const MAPPINGS_DIR = fileURLToPath(new URL('../../docs/crm-mapping/', import.meta.url));

/** Names of the shipped mappings, for `?mapping=` on the upload route. */
export const SHIPPED_MAPPINGS = [
  'veeva-accounts',
  'veeva-calls',
  'veeva-consents',
  'salesforce-accounts',
  'salesforce-tasks',
  'salesforce-events',
  'salesforce-consents',
] as const;

/**
 * Loads a mapping: a shipped one by name (`veeva-calls`) or any YAML file by path. A malformed file is a
 * `validation_failed` naming what is wrong, so a typo never imports half-mapped rows.
 */
export async function loadImportMapping(nameOrPath: string): Promise<ImportMapping> {
  const path = (SHIPPED_MAPPINGS as readonly string[]).includes(nameOrPath)
    ? `${MAPPINGS_DIR}${nameOrPath}.yaml`
    : nameOrPath;
  const text = await readFile(path, 'utf8').catch(() => {
    throw new DomainError('validation_failed', `mapping ${nameOrPath} not found`);
  });
  const parsed = importMappingSchema.safeParse(parseYaml(text));
  if (!parsed.success) {
    throw new DomainError(
      'validation_failed',
      `mapping ${nameOrPath} is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
