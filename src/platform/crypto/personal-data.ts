import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomFillSync,
} from 'node:crypto';

/**
 * Personal data at rest: phone numbers, emails and message bodies are stored encrypted with AES-256-GCM,
 * each with a keyed hash beside it (a blind index) so exact look-ups ("which HCP has this number?") need
 * no decryption. Both keys are derived from PARLEY_DATA_KEY with HKDF, so one secret serves both
 * purposes without the index key ever decrypting anything.
 *
 * Stored form: `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts). The key id names the data key that
 * sealed the value, so a rotated key (PARLEY_DATA_KEY_PREVIOUS) can still open old rows.
 */
export interface PersonalDataCipher {
  seal(plaintext: string): string;
  open(sealed: string): string;
  /** Keyed hash of an already-normalised value (E.164 number, lower-cased email). */
  blindIndex(normalised: string): string;
  /** Id of the current key, stored beside sealed values for rotation. */
  readonly keyId: string;
}

interface DerivedKey {
  id: string;
  encryption: Buffer;
  index: Buffer;
}

function derive(secret: string): DerivedKey {
  const ikm = Buffer.from(secret, 'utf8');
  const salt = Buffer.from('parley/personal-data/v1');
  const encryption = Buffer.from(hkdfSync('sha256', ikm, salt, 'aes-256-gcm', 32));
  const index = Buffer.from(hkdfSync('sha256', ikm, salt, 'blind-index', 32));
  const id = createHash('sha256').update(encryption).digest('hex').slice(0, 8);
  return { id, encryption, index };
}

/**
 * Random 96-bit IVs, drawn from the system's CSPRNG a few kilobytes at a time. One `randomBytes(12)` per
 * value cost about 25 µs here (a call into OpenSSL's generator each time), a quarter of a webhook
 * acknowledgement; drawing in bulk is how Node's own `randomUUID` does it. Each IV is used once, so the
 * values are exactly as unpredictable and as unique as before.
 */
function ivSource(batch = 512): () => Buffer {
  const pool = Buffer.alloc(12 * batch);
  let offset = pool.length;
  return () => {
    if (offset === pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    // A copy: the pool is overwritten on the next refill.
    const iv = Buffer.from(pool.subarray(offset, offset + 12));
    offset += 12;
    return iv;
  };
}

export function createPersonalDataCipher(
  currentKey: string,
  previousKeys: readonly string[] = [],
): PersonalDataCipher {
  const current = derive(currentKey);
  const byId = new Map<string, DerivedKey>([[current.id, current]]);
  for (const k of previousKeys) {
    const d = derive(k);
    if (!byId.has(d.id)) byId.set(d.id, d);
  }
  const nextIv = ivSource();
  return {
    keyId: current.id,
    seal(plaintext) {
      const iv = nextIv();
      const cipher = createCipheriv('aes-256-gcm', current.encryption, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [
        'v1',
        current.id,
        iv.toString('base64url'),
        body.toString('base64url'),
        tag.toString('base64url'),
      ].join('.');
    },
    open(sealed) {
      const [version, keyId, iv, body, tag] = sealed.split('.');
      if (version !== 'v1' || !keyId || iv === undefined || body === undefined || tag === undefined) {
        throw new Error('not a sealed personal-data value');
      }
      const key = byId.get(keyId);
      if (!key) throw new Error(`no data key with id ${keyId} is configured`);
      const decipher = createDecipheriv('aes-256-gcm', key.encryption, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
    blindIndex(normalised) {
      // The index key is the current key's: rotating PARLEY_DATA_KEY means re-indexing, a migration job.
      return createHmac('sha256', current.index).update(normalised, 'utf8').digest('base64url');
    },
  };
}
