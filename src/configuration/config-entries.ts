import type { ControlDeps, RequestContext } from '../control/context.js';
import { isUniqueViolation, newId } from '../control/ids.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import type { ConfigItem } from '../domain/configuration.js';
import { checkConfigKey, collisions, decodeValue, kindOfKey } from '../domain/configuration.js';
import { type FieldError, invalid, notFound, RondoError } from '../domain/errors.js';
import type { Keyring } from '../secrets/envelope.js';
import type { Executor } from '../store/store.js';

/** Configuration needs the keyring on top of the control plane. */
export interface ConfigDeps extends ControlDeps {
  keyring: Keyring;
}

export interface ConfigSetInput {
  key: string;
  value: string;
  secret?: boolean;
  encoding?: 'utf8' | 'base64';
}

export interface ConfigChange {
  /** Omitted: component scope (every environment). */
  environment?: string;
  /** The build scope: build arguments and build secrets, never given to replicas. */
  build?: boolean;
  /** The scope's revision the change was made against; a different current revision is a 409. */
  revision?: number;
  set?: ConfigSetInput[];
  unset?: string[];
}

export interface ConfigEntryView {
  key: string;
  kind: 'env' | 'file';
  secret: boolean;
  version: number;
  /** Non-secret values only; secrets are write-only. */
  value?: string;
  encoding?: 'utf8' | 'base64';
  updatedBy: string;
  updatedAt: string;
}

export interface ConfigScopeView {
  scope: string;
  revision: number;
  items: ConfigEntryView[];
}

/** '' is the component scope in `config_entries.environment_id`. */
export const COMPONENT_SCOPE = '';
/** The build scope: env vars become build arguments, secrets BuildKit secrets (§4, F3). */
export const BUILD_SCOPE = 'build';

export async function findComponentIds(db: Executor, orgId: string, project: string, component: string) {
  const row = await db
    .selectFrom('components as c')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .select(['c.id', 'p.pipeline_id'])
    .where('c.org_id', '=', orgId)
    .where('p.name', '=', project)
    .where('c.name', '=', component)
    .executeTakeFirst();
  if (!row) throw notFound('component', `${project}/${component}`);
  return row;
}

async function findEnvironmentId(db: Executor, orgId: string, name: string) {
  const env = await db
    .selectFrom('environments')
    .select(['id', 'production'])
    .where('org_id', '=', orgId)
    .where('name', '=', name)
    .executeTakeFirst();
  if (!env) throw notFound('environment', name);
  return env;
}

/** The draft of one scope, as frozen items (what a deployment created now would carry). */
export async function draftItems(db: Executor, componentId: string, scope: string): Promise<ConfigItem[]> {
  const rows = await db
    .selectFrom('config_entries')
    .select(['key', 'kind', 'secret', 'value_id', 'version'])
    .where('component_id', '=', componentId)
    .where('environment_id', '=', scope)
    .orderBy('key')
    .execute();
  return rows.map((r) => ({
    key: r.key,
    kind: r.kind,
    secret: r.secret,
    valueId: r.value_id,
    version: r.version,
  }));
}

export async function scopeRevision(db: Executor, componentId: string, scope: string): Promise<number> {
  const row = await db
    .selectFrom('config_scopes')
    .select('revision')
    .where('component_id', '=', componentId)
    .where('environment_id', '=', scope)
    .executeTakeFirst();
  return row?.revision ?? 0;
}

/** Environment-specific items win over component-scope items with the same key (§5). */
export function mergeConfig(
  component: readonly ConfigItem[],
  environment: readonly ConfigItem[],
): ConfigItem[] {
  const byKey = new Map(component.map((i) => [i.key, i]));
  for (const i of environment) byKey.set(i.key, i);
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
}

function checkChange(change: ConfigChange): { decoded: Map<string, Buffer> } {
  const fields: FieldError[] = [];
  const decoded = new Map<string, Buffer>();
  const seen = new Set<string>();
  (change.set ?? []).forEach((item, i) => {
    const keyProblem = checkConfigKey(item.key);
    if (keyProblem) {
      fields.push({ field: `set[${i}].key`, message: keyProblem });
      return;
    }
    if (seen.has(item.key)) fields.push({ field: `set[${i}].key`, message: `'${item.key}' is set twice` });
    seen.add(item.key);
    const value = decodeValue(item.key, item.value, item.encoding);
    if ('problem' in value) fields.push({ field: `set[${i}].value`, message: value.problem });
    else decoded.set(item.key, value.bytes);
  });
  (change.unset ?? []).forEach((key, i) => {
    const keyProblem = checkConfigKey(key);
    if (keyProblem) fields.push({ field: `unset[${i}]`, message: keyProblem });
    if (seen.has(key)) fields.push({ field: `unset[${i}]`, message: `'${key}' is both set and unset` });
  });
  if (!change.set?.length && !change.unset?.length)
    fields.push({ field: 'set', message: 'give at least one key to set or unset' });
  if (change.build && change.environment)
    fields.push({
      field: 'build',
      message: 'the build scope belongs to no environment; give one or the other',
    });
  if (change.build)
    (change.set ?? []).forEach((item, i) => {
      if (kindOfKey(item.key) === 'file')
        fields.push({
          field: `set[${i}].key`,
          message: 'the build scope holds build arguments and secrets by name, not files',
        });
    });
  if (fields.length) throw invalid(fields);
  return { decoded };
}

/**
 * Sets and unsets keys of one scope in one transaction. Values are encrypted before they reach the
 * database; the scope's revision goes up by one, and a change made against an older revision is
 * refused whole (optimistic concurrency: the loser gets 409 and nothing of its change is written).
 */
export async function changeConfig(
  deps: ConfigDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  change: ConfigChange,
): Promise<ConfigScopeView> {
  const { decoded } = checkChange(change);
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await findComponentIds(deps.store.db, org.id, project, component);
  const env = change.environment
    ? await findEnvironmentId(deps.store.db, org.id, change.environment)
    : undefined;
  const scope = change.build ? BUILD_SCOPE : (env?.id ?? COMPONENT_SCOPE);
  const audit = {
    permission: env?.production ? 'config:write:production' : 'config:write',
    action: 'config.change',
    resourceType: 'configuration',
    resource: `${project}/${component}@${change.build ? 'build' : (change.environment ?? '*')}`,
  } as const;
  try {
    await mutateInOrg(deps, ctx, orgName, audit, async (tx) => {
      const current = await tx
        .selectFrom('config_scopes')
        .select('revision')
        .where('component_id', '=', c.id)
        .where('environment_id', '=', scope)
        .forUpdate()
        .executeTakeFirst();
      const revision = current?.revision ?? 0;
      if (change.revision !== undefined && change.revision !== revision) throw revisionConflict(revision);
      const existing = await tx
        .selectFrom('config_entries')
        .select(['key', 'secret', 'version'])
        .where('component_id', '=', c.id)
        .where('environment_id', '=', scope)
        .execute();
      const byKey = new Map(existing.map((e) => [e.key, e]));
      const missing = (change.unset ?? []).filter((k) => !byKey.has(k));
      if (missing.length) throw notFound('configuration key', missing.join(', '));
      const after = new Set(existing.map((e) => e.key));
      for (const k of change.unset ?? []) after.delete(k);
      for (const s of change.set ?? []) after.add(s.key);
      // Collisions count the other scope too: component + environment is what a replica gets.
      const others = env && !change.build ? await draftItems(tx, c.id, COMPONENT_SCOPE) : [];
      const clash = collisions([...new Set([...after, ...others.map((o) => o.key)])]);
      if (clash.length) throw invalid(clash);
      if (change.unset?.length)
        await tx
          .deleteFrom('config_entries')
          .where('component_id', '=', c.id)
          .where('environment_id', '=', scope)
          .where('key', 'in', change.unset)
          .execute();
      for (const item of change.set ?? []) {
        const valueId = await storeValue(tx, deps.keyring, org.id, c.id, decoded.get(item.key)!);
        const before = byKey.get(item.key);
        const row = {
          kind: kindOfKey(item.key),
          secret: item.secret ?? before?.secret ?? false,
          value_id: valueId,
          version: (before?.version ?? 0) + 1,
          updated_by: ctx.actor.userName,
          updated_at: new Date(),
        };
        await tx
          .insertInto('config_entries')
          .values({ component_id: c.id, environment_id: scope, key: item.key, ...row })
          .onConflict((oc) => oc.columns(['component_id', 'environment_id', 'key']).doUpdateSet(row))
          .execute();
      }
      if (current)
        await tx
          .updateTable('config_scopes')
          .set({ revision: revision + 1 })
          .where('component_id', '=', c.id)
          .where('environment_id', '=', scope)
          .execute();
      else
        await tx
          .insertInto('config_scopes')
          .values({ component_id: c.id, environment_id: scope, revision: 1 })
          .execute();
    });
  } catch (err) {
    // Two first writers of a scope race on its revision row: the second one loses, whole.
    if (isUniqueViolation(err)) throw revisionConflict(await scopeRevision(deps.store.db, c.id, scope));
    throw err;
  }
  return readScope(deps, c.id, scope, change.build ? 'build' : change.environment);
}

function revisionConflict(current: number): RondoError {
  return new RondoError(
    'RONDO_ERR_CONFLICT_REVISION',
    `the configuration changed meanwhile (it is at revision ${current}); list it again, reapply your change and send revision ${current}`,
  );
}

/** Encrypts a value under a fresh data key and stores it; returns its id (the only way a value is written). */
export async function storeValue(
  tx: Executor,
  keyring: Keyring,
  orgId: string,
  componentId: string | null,
  plaintext: Buffer,
): Promise<string> {
  const id = newId('cfv');
  const envelope = keyring.encrypt(plaintext, id);
  await tx
    .insertInto('config_values')
    .values({
      id,
      org_id: orgId,
      component_id: componentId,
      key_id: envelope.keyId,
      wrapped_key: envelope.wrappedKey,
      ciphertext: envelope.ciphertext,
    })
    .execute();
  return id;
}

export async function listConfig(
  deps: ConfigDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  environment?: string,
  build?: boolean,
): Promise<ConfigScopeView> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await findComponentIds(deps.store.db, org.id, project, component);
  if (build) return readScope(deps, c.id, BUILD_SCOPE, 'build');
  const env = environment ? await findEnvironmentId(deps.store.db, org.id, environment) : undefined;
  return readScope(deps, c.id, env?.id ?? COMPONENT_SCOPE, environment);
}

async function readScope(
  deps: ConfigDeps,
  componentId: string,
  scope: string,
  environment: string | undefined,
): Promise<ConfigScopeView> {
  const rows = await deps.store.db
    .selectFrom('config_entries as e')
    .innerJoin('config_values as v', 'v.id', 'e.value_id')
    .select(['e.key', 'e.kind', 'e.secret', 'e.version', 'e.updated_by', 'e.updated_at'])
    .select(['v.id as value_id', 'v.key_id', 'v.wrapped_key', 'v.ciphertext'])
    .where('e.component_id', '=', componentId)
    .where('e.environment_id', '=', scope)
    .orderBy('e.key')
    .execute();
  return {
    scope: environment ?? 'component',
    revision: await scopeRevision(deps.store.db, componentId, scope),
    items: rows.map((r) => {
      const view: ConfigEntryView = {
        key: r.key,
        kind: r.kind,
        secret: r.secret,
        version: r.version,
        updatedBy: r.updated_by,
        updatedAt: r.updated_at.toISOString(),
      };
      if (!r.secret) {
        const bytes = deps.keyring.decrypt(
          { keyId: r.key_id, wrappedKey: r.wrapped_key, ciphertext: r.ciphertext },
          r.value_id,
        );
        const text = bytes.toString('utf8');
        const isText = !bytes.includes(0) && Buffer.from(text, 'utf8').equals(bytes);
        view.value = isText ? text : bytes.toString('base64');
        view.encoding = isText ? 'utf8' : 'base64';
      }
      return view;
    }),
  };
}
