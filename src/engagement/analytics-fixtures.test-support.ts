import type { AssetsTable } from '../platform/database/index.js';
import { bareAssetRow } from '../test-support/index.js';

/** The analytics tests' one asset: Cardiozen's approved dosing leaflet in Brazil, by `authorId`, of `at`. */
export function dosingLeaflet(id: string, authorId: string, at: string): AssetsTable {
  return bareAssetRow({
    id,
    key: 'leaflet',
    title: 'Dosing leaflet',
    url: 'https://x.test/a',
    approval_code: 'AC-1',
    market_code: 'BR',
    brand: 'Cardiozen',
    author_id: authorId,
    created_at: at,
  });
}
