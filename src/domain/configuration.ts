import type { FieldError } from './errors.js';

/**
 * Configuration keys and values (§5). An env var is keyed by its name; a file mount by its absolute
 * path, so one namespace holds both and a key says which kind it is.
 */
export const MAX_VALUE_BYTES = 1024 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_DIRS = ['/proc', '/sys', '/dev'];

export type ConfigKind = 'env' | 'file';

/** One item of a frozen configuration: the value is a reference to an encrypted `config_values` row. */
export interface ConfigItem {
  key: string;
  kind: 'env' | 'file';
  secret: boolean;
  valueId: string;
  version: number;
}

/** A configuration a component's descriptor declares (§2): what a deploy must be given. */
export interface ConfigDeclaration {
  name: string;
  kind: 'env' | 'file';
  /** For files: where the file is mounted and its format. */
  mountPath?: string;
  format?: 'yaml' | 'json' | 'toml';
  type: string;
  required: boolean;
  secret: boolean;
}

export function kindOfKey(key: string): ConfigKind {
  return key.startsWith('/') ? 'file' : 'env';
}

/** Why `key` is not a valid env var name or file mount path, or undefined when it is. */
export function checkConfigKey(key: string): string | undefined {
  if (key.length === 0) return 'must not be empty';
  if (key.length > 1024) return 'must be at most 1024 characters';
  if (kindOfKey(key) === 'env') {
    if (!ENV_NAME.test(key))
      return `'${key}' is not a valid environment variable name: start with a letter or _, then letters, digits or _ (file mounts are absolute paths such as /etc/app/config.yaml)`;
    if (key.startsWith('RONDO_')) return `'${key}': names starting with RONDO_ are reserved for the platform`;
    return undefined;
  }
  const parts = key.split('/').slice(1);
  if (key.endsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..'))
    return `'${key}' is not a normalized absolute file path: no trailing /, no empty, . or .. segments`;
  if (/[\0\n\r]/.test(key)) return 'must not contain control characters';
  if (RESERVED_DIRS.some((d) => key === d || key.startsWith(`${d}/`)))
    return `'${key}' is under ${key.split('/').slice(0, 2).join('/')}, which the runtime owns; mount the file elsewhere`;
  return undefined;
}

/** Two file mounts collide when they are the same path or one is a directory of the other. */
export function mountsCollide(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/** Every pair of colliding file mounts in one effective configuration, as field errors. */
export function collisions(keys: readonly string[], field = 'set'): FieldError[] {
  const files = keys.filter((k) => kindOfKey(k) === 'file').sort();
  const out: FieldError[] = [];
  for (let i = 0; i < files.length; i++)
    for (let j = i + 1; j < files.length; j++)
      if (mountsCollide(files[i]!, files[j]!))
        out.push({
          field,
          message: `file mounts ${files[i]} and ${files[j]} collide: one would hide the other; choose distinct paths`,
        });
  return out;
}

/** Decodes a value as sent; file content may be base64 (binary); env values are text. */
export function decodeValue(
  key: string,
  value: string,
  encoding: 'utf8' | 'base64' | undefined,
): { bytes: Buffer } | { problem: string } {
  let bytes: Buffer;
  if (encoding === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0)
      return { problem: 'is not valid base64' };
    bytes = Buffer.from(value, 'base64');
  } else {
    if (value.includes('\0'))
      return {
        problem:
          kindOfKey(key) === 'file'
            ? 'contains NUL bytes; send binary file content base64-encoded with "encoding": "base64"'
            : 'contains NUL bytes, which an environment variable cannot hold',
      };
    bytes = Buffer.from(value, 'utf8');
  }
  if (bytes.length > MAX_VALUE_BYTES)
    return { problem: `is ${bytes.length} bytes; a value holds at most 1 MB (${MAX_VALUE_BYTES} bytes)` };
  if (kindOfKey(key) === 'env' && encoding === 'base64' && bytes.includes(0))
    return { problem: 'decodes to binary; an environment variable holds text (use a file mount)' };
  return { bytes };
}
