import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Keyring } from './envelope.js';

/**
 * The master key on disk: base64 of 32 random bytes, mode 0600. A rotation writes the new key to
 * `<file>.next` before re-wrapping, and renames it over `<file>` after the transaction commits; a
 * process that dies in between finds both files at the next start and finishes the rotation.
 */
export class MasterKeyFile {
  constructor(readonly path: string) {}

  get nextPath(): string {
    return `${this.path}.next`;
  }

  /** Loads the key (generating it on first start) and, if a rotation was cut short, the next one. */
  load(): { keyring: Keyring; unfinishedRotation: boolean } {
    if (!existsSync(this.path)) {
      if (existsSync(this.nextPath)) renameSync(this.nextPath, this.path);
      else writeKey(this.path, randomBytes(32));
    }
    const current = readKey(this.path);
    if (!existsSync(this.nextPath)) return { keyring: new Keyring(current), unfinishedRotation: false };
    return { keyring: new Keyring(readKey(this.nextPath), [current]), unfinishedRotation: true };
  }

  /** Step 1 of a rotation: a fresh key, saved beside the current one. */
  prepareNext(): Buffer {
    const key = randomBytes(32);
    writeKey(this.nextPath, key);
    return key;
  }

  /** Step 3, after every data key is re-wrapped: the next key becomes the key. */
  commitNext(): void {
    renameSync(this.nextPath, this.path);
  }

  abandonNext(): void {
    rmSync(this.nextPath, { force: true });
  }
}

function readKey(path: string): Buffer {
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32)
    throw new Error(`${path} does not hold a master key (base64 of 32 bytes); restore it from your backup`);
  return key;
}

function writeKey(path: string, key: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}
