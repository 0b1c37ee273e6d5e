import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_PORT } from '../config.js';

/** What `rondo login` stores in `~/.rondo/config.json` (mode 0600: it holds a token). */
export interface StoredLogin {
  server?: string;
  token?: string;
  org?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME || homedir(), '.rondo', 'config.json');
}

export function readLogin(env: NodeJS.ProcessEnv = process.env): StoredLogin {
  try {
    return JSON.parse(readFileSync(configPath(env), 'utf8')) as StoredLogin;
  } catch {
    return {};
  }
}

export function writeLogin(login: StoredLogin, env: NodeJS.ProcessEnv = process.env): string {
  const path = configPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** Where and as whom the CLI talks: flags win, then RONDO_SERVER/RONDO_TOKEN/RONDO_ORG, then the stored login. */
export interface Connection {
  server: string;
  token?: string;
  org?: string;
}

export function resolveConnection(
  flags: { server?: string; org?: string },
  env: NodeJS.ProcessEnv = process.env,
): Connection {
  const stored = readLogin(env);
  const server = flags.server ?? env.RONDO_SERVER ?? stored.server ?? `http://127.0.0.1:${DEFAULT_PORT}`;
  const token = env.RONDO_TOKEN ?? stored.token;
  const org = flags.org ?? env.RONDO_ORG ?? stored.org;
  return { server: server.replace(/\/+$/, ''), ...(token ? { token } : {}), ...(org ? { org } : {}) };
}
