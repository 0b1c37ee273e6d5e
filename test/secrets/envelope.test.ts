import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Keyring, keyId } from '../../src/secrets/envelope.js';
import { MasterKeyFile } from '../../src/secrets/master-key.js';

describe('envelope encryption', () => {
  const plaintext = Buffer.from('s3cr3t value ✓');

  it('round-trips, with a fresh data key per value, and never stores the plaintext', () => {
    const ring = new Keyring(randomBytes(32));
    const a = ring.encrypt(plaintext, 'cfv_1');
    const b = ring.encrypt(plaintext, 'cfv_1');
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.wrappedKey).not.toBe(b.wrappedKey);
    expect(JSON.stringify(a)).not.toContain('s3cr3t');
    expect(ring.decrypt(a, 'cfv_1').equals(plaintext)).toBe(true);
  });

  it('refuses a tampered ciphertext and a value moved to another row', () => {
    const ring = new Keyring(randomBytes(32));
    const env = ring.encrypt(plaintext, 'cfv_1');
    const raw = Buffer.from(env.ciphertext, 'base64');
    raw[raw.length - 1]! ^= 1;
    expect(() => ring.decrypt({ ...env, ciphertext: raw.toString('base64') }, 'cfv_1')).toThrow();
    expect(() => ring.decrypt(env, 'cfv_2')).toThrow();
  });

  it('re-wraps under a new master key without re-encrypting, and names a missing key', () => {
    const old = randomBytes(32);
    const ring = new Keyring(old);
    const env = ring.encrypt(plaintext, 'cfv_1');
    const next = randomBytes(32);
    ring.use(next);
    const moved = ring.rewrap(env, 'cfv_1');
    expect(moved.ciphertext).toBe(env.ciphertext);
    expect(moved.keyId).toBe(keyId(next));
    expect(new Keyring(next).decrypt(moved, 'cfv_1').equals(plaintext)).toBe(true);
    expect(() => new Keyring(next).decrypt(env, 'cfv_1')).toThrow(/no master key with id/);
  });
});

describe('the master key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is generated at first start with mode 0600 and loaded again after', () => {
    const file = new MasterKeyFile(join(dir, 'a', 'master.key'));
    const first = file.load();
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    const again = new MasterKeyFile(file.path).load();
    expect(again.keyring.currentKeyId).toBe(first.keyring.currentKeyId);
    expect(again.unfinishedRotation).toBe(false);
  });

  it('finds an interrupted rotation: both keys load and the next one wraps', () => {
    const file = new MasterKeyFile(join(dir, 'b.key'));
    const { keyring } = file.load();
    const value = keyring.encrypt(Buffer.from('x'), 'v');
    const next = file.prepareNext();
    const resumed = file.load();
    expect(resumed.unfinishedRotation).toBe(true);
    expect(resumed.keyring.currentKeyId).toBe(keyId(next));
    expect(resumed.keyring.decrypt(value, 'v').toString()).toBe('x');
    file.commitNext();
    expect(Buffer.from(readFileSync(file.path, 'utf8').trim(), 'base64').equals(next)).toBe(true);
  });

  it('refuses a file that is not a key, saying what to do', () => {
    const path = join(dir, 'bad.key');
    writeFileSync(path, 'not a key');
    expect(() => new MasterKeyFile(path).load()).toThrow(/restore it from your backup/);
  });
});
