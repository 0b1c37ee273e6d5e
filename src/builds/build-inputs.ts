import { BUILD_SCOPE, draftItems } from '../configuration/config-entries.js';
import { materialize } from '../configuration/materialize.js';
import type { Keyring } from '../secrets/envelope.js';
import type { Executor } from '../store/store.js';

/**
 * What the build scope (F3) gives a build: non-secret values become build arguments (`ARG`,
 * visible in the image's history like any build argument); secret values become BuildKit secrets,
 * mounted at `/run/secrets/<NAME>` for a `RUN` and never written to a layer or shown in a log.
 */
export interface BuildInputs {
  args: Record<string, string>;
  secrets: Record<string, string>;
}

export async function loadBuildInputs(
  db: Executor,
  keyring: Keyring,
  componentId: string,
): Promise<BuildInputs> {
  const items = await draftItems(db, componentId, BUILD_SCOPE);
  const values = await materialize(db, keyring, items);
  // Keys are the user's (`__proto__` is a valid variable name): no prototype to swallow them.
  const out: BuildInputs = { args: Object.create(null), secrets: Object.create(null) };
  for (const item of items) {
    const value = values.env[item.key];
    if (value === undefined) continue;
    if (item.secret) out.secrets[item.key] = value;
    else out.args[item.key] = value;
  }
  return out;
}

/**
 * Gives a generated Dockerfile the build inputs: `ARG` for each argument after every `FROM`, and
 * every secret mounted into every `RUN` (install and build commands read what they need).
 */
export function withBuildInputs(dockerfile: string, inputs: BuildInputs): string {
  const args = Object.keys(inputs.args);
  const mounts = Object.keys(inputs.secrets)
    .map((id) => `--mount=type=secret,id=${id}`)
    .join(' ');
  return dockerfile
    .split('\n')
    .flatMap((line) => {
      if (/^FROM /.test(line)) return [line, ...args.map((a) => `ARG ${a}`)];
      if (mounts && /^RUN /.test(line)) return [`RUN ${mounts} ${line.slice(4)}`];
      return [line];
    })
    .join('\n');
}
