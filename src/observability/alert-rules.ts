import { z } from 'zod';
import { storeValue } from '../configuration/config-entries.js';
import type { ControlDeps, RequestContext } from '../control/context.js';
import { newId } from '../control/ids.js';
import { findComponent, findEnvironment } from '../control/lookups.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import {
  ALERT_KINDS,
  ALERT_PARAMS,
  type AlertKind,
  MAX_EMAILS,
  MAX_RULES_PER_COMPONENT,
  RONDO_EVALUATED,
  webhookUrlProblem,
} from '../domain/alerts.js';
import { type FieldError, invalid, notFound, RondoError } from '../domain/errors.js';
import { checkDnsLabel } from '../domain/names.js';
import type { SecretDeps } from '../secrets/secret-deps.js';
import type { Executor } from '../store/store.js';
import { resolveIncident } from './alert-incidents.js';

/** What the alert use cases need: the store, the keyring for webhook secrets, whether email can be sent. */
export type AlertDeps = ControlDeps & SecretDeps & { emailConfigured: boolean };

export interface AlertRuleInput {
  name: string;
  environment: string;
  kind: AlertKind;
  params?: Record<string, unknown>;
  webhook?: { url: string; secret: string };
  emails?: string[];
  enabled?: boolean;
}

export interface AlertRuleView {
  name: string;
  environment: string;
  kind: AlertKind;
  params: Record<string, unknown>;
  enabled: boolean;
  state: 'ok' | 'firing';
  /** `rondo` (log, build-failure, system) or `prometheus` (latency, traffic, resource, status-code). */
  evaluatedBy: 'rondo' | 'prometheus';
  /** The secret is write-only: never shown. */
  webhook: { url: string } | null;
  emails: string[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** `history` is the path of the alert history under …/alerts. */
const RESERVED = new Set(['history']);
const Email = z.email();

/** The rule's own checks beyond its shape: params of its kind, channels; every problem at once. */
function checkRule(input: AlertRuleInput, emailConfigured: boolean): Record<string, unknown> {
  const problems: FieldError[] = [];
  const nameProblem = checkDnsLabel(input.name);
  if (nameProblem) problems.push({ field: 'name', message: nameProblem });
  else if (RESERVED.has(input.name))
    problems.push({ field: 'name', message: `'${input.name}' is reserved; choose another name` });
  if (!(ALERT_KINDS as readonly string[]).includes(input.kind))
    throw invalid([{ field: 'kind', message: `must be one of ${ALERT_KINDS.join(', ')}` }]);
  const parsed = ALERT_PARAMS[input.kind].safeParse(input.params ?? {});
  if (!parsed.success)
    for (const issue of parsed.error.issues)
      problems.push({ field: ['params', ...issue.path].join('.'), message: issue.message });
  if (input.webhook) {
    const p = webhookUrlProblem(input.webhook.url);
    if (p) problems.push({ field: 'webhook.url', message: p });
  }
  const emails = input.emails ?? [];
  if (emails.length > MAX_EMAILS)
    problems.push({ field: 'emails', message: `at most ${MAX_EMAILS} addresses per rule` });
  emails.forEach((e, i) => {
    if (!Email.safeParse(e).success)
      problems.push({ field: `emails.${i}`, message: 'is not an email address' });
  });
  if (emails.length > 0 && !emailConfigured)
    problems.push({
      field: 'emails',
      message: 'no SMTP server is configured; set RONDO_SMTP_HOST and RONDO_SMTP_FROM on the control plane',
    });
  if (problems.length) throw invalid(problems);
  return parsed.data as Record<string, unknown>;
}

type RuleRow = {
  name: string;
  kind: string;
  params: Record<string, unknown>;
  enabled: boolean;
  state: string;
  webhook_url: string | null;
  emails: string[];
  created_by: string;
  created_at: Date;
  updated_at: Date;
  environment: string;
};

function view(r: RuleRow): AlertRuleView {
  const kind = r.kind as AlertKind;
  return {
    name: r.name,
    environment: r.environment,
    kind,
    params: r.params,
    enabled: r.enabled,
    state: r.state === 'firing' ? 'firing' : 'ok',
    evaluatedBy: RONDO_EVALUATED.includes(kind) ? 'rondo' : 'prometheus',
    webhook: r.webhook_url ? { url: r.webhook_url } : null,
    emails: r.emails,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

function rulesOf(db: Executor, componentId: string) {
  return db
    .selectFrom('alert_rules as a')
    .innerJoin('environments as e', 'e.id', 'a.environment_id')
    .select([
      'a.id',
      'a.name',
      'a.kind',
      'a.params',
      'a.enabled',
      'a.state',
      'a.incident_id',
      'a.webhook_url',
      'a.webhook_secret_value_id',
      'a.emails',
      'a.created_by',
      'a.created_at',
      'a.updated_at',
      'e.name as environment',
    ])
    .where('a.component_id', '=', componentId);
}

async function ruleNamed(db: Executor, componentId: string, name: string) {
  const r = await rulesOf(db, componentId).where('a.name', '=', name).executeTakeFirst();
  if (!r) throw notFound('alert rule', name);
  return r;
}

/** Creates a rule; the 11th of a component is refused (409), as Choreo limits them to 10. */
export async function createAlertRule(
  deps: AlertDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  input: AlertRuleInput,
): Promise<AlertRuleView> {
  const params = checkRule(input, deps.emailConfigured);
  return mutateInOrg(
    deps,
    ctx,
    orgName,
    {
      permission: 'component:write',
      action: 'alert.create',
      resourceType: 'alert',
      resource: `${project}/${component}/${input.name}`,
    },
    async (tx, { org }) => {
      const c = await findComponent(tx, org.id, project, component);
      const env = await findEnvironment(tx, org.id, input.environment);
      // One creation at a time per component, so two requests cannot both be the 10th.
      await tx.selectFrom('components').select('id').where('id', '=', c.id).forUpdate().execute();
      const { n } = await tx
        .selectFrom('alert_rules')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('component_id', '=', c.id)
        .executeTakeFirstOrThrow();
      if (Number(n) >= MAX_RULES_PER_COMPONENT)
        throw new RondoError(
          'RONDO_ERR_CONFLICT_LIMIT',
          `${project}/${component} has ${n} alert rules, the most a component may have (${MAX_RULES_PER_COMPONENT}); delete one first`,
        );
      const taken = await tx
        .selectFrom('alert_rules')
        .select('id')
        .where('component_id', '=', c.id)
        .where('name', '=', input.name)
        .executeTakeFirst();
      if (taken)
        throw new RondoError('RONDO_ERR_CONFLICT_EXISTS', `alert rule '${input.name}' already exists`, {
          fields: [
            { field: 'name', message: `alert rule '${input.name}' already exists; choose another name` },
          ],
        });
      const secretId = input.webhook
        ? await storeValue(tx, deps.keyring, org.id, c.id, Buffer.from(input.webhook.secret))
        : null;
      const now = deps.now?.() ?? new Date();
      await tx
        .insertInto('alert_rules')
        .values({
          id: newId('alr'),
          org_id: org.id,
          component_id: c.id,
          environment_id: env.id,
          name: input.name,
          kind: input.kind,
          params: JSON.stringify(params),
          webhook_url: input.webhook?.url ?? null,
          webhook_secret_value_id: secretId,
          emails: JSON.stringify(input.emails ?? []),
          enabled: input.enabled ?? true,
          created_by: ctx.actor.userName,
          created_at: now,
          updated_at: now,
        })
        .execute();
      return view(await ruleNamed(tx, c.id, input.name));
    },
  );
}

export async function listAlertRules(
  deps: AlertDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  filter: { environment?: string } = {},
): Promise<{ items: AlertRuleView[] }> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await findComponent(deps.store.db, org.id, project, component);
  let q = rulesOf(deps.store.db, c.id);
  if (filter.environment) {
    const env = await findEnvironment(deps.store.db, org.id, filter.environment);
    q = q.where('a.environment_id', '=', env.id);
  }
  return { items: (await q.orderBy('a.name').execute()).map(view) };
}

export async function getAlertRule(
  deps: AlertDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  name: string,
): Promise<AlertRuleView> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await findComponent(deps.store.db, org.id, project, component);
  return view(await ruleNamed(deps.store.db, c.id, name));
}

/** Turns a rule on or off; turning off a firing rule resolves its incident (nothing watches it any more). */
export async function setAlertRuleEnabled(
  deps: AlertDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  name: string,
  enabled: boolean,
): Promise<AlertRuleView> {
  return mutateInOrg(
    deps,
    ctx,
    orgName,
    {
      permission: 'component:write',
      action: enabled ? 'alert.enable' : 'alert.disable',
      resourceType: 'alert',
      resource: `${project}/${component}/${name}`,
    },
    async (tx, { org }) => {
      const c = await findComponent(tx, org.id, project, component);
      const r = await ruleNamed(tx, c.id, name);
      const now = deps.now?.() ?? new Date();
      if (!enabled && r.incident_id) await resolveIncident(tx, r.id, now, 'the rule was disabled');
      await tx.updateTable('alert_rules').set({ enabled, updated_at: now }).where('id', '=', r.id).execute();
      return view(await ruleNamed(tx, c.id, name));
    },
  );
}

/** Deletes a rule and its webhook secret; its history stays (with the rule's name). */
export async function deleteAlertRule(
  deps: AlertDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  name: string,
): Promise<void> {
  await mutateInOrg(
    deps,
    ctx,
    orgName,
    {
      permission: 'component:write',
      action: 'alert.delete',
      resourceType: 'alert',
      resource: `${project}/${component}/${name}`,
    },
    async (tx, { org }) => {
      const c = await findComponent(tx, org.id, project, component);
      const r = await ruleNamed(tx, c.id, name);
      if (r.incident_id)
        await resolveIncident(tx, r.id, deps.now?.() ?? new Date(), 'the rule was deleted', {
          notify: false,
        });
      await tx.deleteFrom('alert_rules').where('id', '=', r.id).execute();
      if (r.webhook_secret_value_id)
        await tx.deleteFrom('config_values').where('id', '=', r.webhook_secret_value_id).execute();
    },
  );
}
