import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Envelope encryption (§5): every value gets its own AES-256-GCM data key; the data key is
 * wrapped (AES-256-GCM too) by the master key. Rotating the master key re-wraps data keys only,
 * so no value is ever re-encrypted and no plaintext is ever written.
 */
export interface Envelope {
  /** Which master key wrapped the data key (see `keyId`). */
  keyId: string;
  /** base64(iv ‖ tag ‖ wrapped data key). */
  wrappedKey: string;
  /** base64(iv ‖ tag ‖ ciphertext). */
  ciphertext: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A short, stable, non-secret name for a master key: the first 16 hex digits of its SHA-256. */
export function keyId(masterKey: Buffer): string {
  return createHash('sha256').update(masterKey).digest('hex').slice(0, 16);
}

function seal(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

function open(key: Buffer, sealed: string, aad: string): Buffer {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

/** Holds the master keys this process can unwrap with; the first one wraps new data keys. */
export class Keyring {
  readonly #keys: Map<string, Buffer>;
  #current: string;

  constructor(current: Buffer, previous: Buffer[] = []) {
    for (const k of [current, ...previous])
      if (k.length !== 32) throw new Error('a master key is 32 bytes (AES-256)');
    this.#keys = new Map([current, ...previous].map((k) => [keyId(k), k]));
    this.#current = keyId(current);
  }

  get currentKeyId(): string {
    return this.#current;
  }

  /** Adds a key and makes it the one that wraps from now on; older keys still unwrap. */
  use(key: Buffer): void {
    if (key.length !== 32) throw new Error('a master key is 32 bytes (AES-256)');
    this.#keys.set(keyId(key), key);
    this.#current = keyId(key);
  }

  /** `aad` binds the ciphertext to where it is stored (a value id), so rows cannot be swapped. */
  encrypt(plaintext: Buffer, aad: string): Envelope {
    const dataKey = randomBytes(32);
    const master = this.#keys.get(this.#current)!;
    return {
      keyId: this.#current,
      wrappedKey: seal(master, dataKey, `rondo-data-key:${aad}`),
      ciphertext: seal(dataKey, plaintext, aad),
    };
  }

  decrypt(envelope: Envelope, aad: string): Buffer {
    return open(this.#unwrap(envelope, aad), envelope.ciphertext, aad);
  }

  /** The same data key, wrapped by the current master key. */
  rewrap(envelope: Envelope, aad: string): Envelope {
    const dataKey = this.#unwrap(envelope, aad);
    const master = this.#keys.get(this.#current)!;
    return { ...envelope, keyId: this.#current, wrappedKey: seal(master, dataKey, `rondo-data-key:${aad}`) };
  }

  #unwrap(envelope: Envelope, aad: string): Buffer {
    const master = this.#keys.get(envelope.keyId);
    if (!master)
      throw new Error(
        `no master key with id ${envelope.keyId} is loaded; start Rondo with the key that encrypted this value`,
      );
    return open(master, envelope.wrappedKey, `rondo-data-key:${aad}`);
  }
}
