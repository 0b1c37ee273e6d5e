import { z } from 'zod';
import { type BuildUseDeps, getBuild } from '../../builds/builds.js';
import type { ComponentChanges } from '../../control/component-changes.js';
import type { RequestContext } from '../../control/context.js';
import { findComponent } from '../../control/lookups.js';
import { readInOrg } from '../../control/org-access.js';
import { componentStatus } from '../../deploy/component-status.js';
import type { DeployDeps } from '../../deploy/deployments.js';
import { executionLogText, getExecution, type TaskDeps } from '../../tasks/task-runs.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, problemResponses } from '../schemas.js';
import { closedSignal, type ServerEvent, sendEventStream } from '../sse.js';
import { orgName } from './org-param.js';
import { platformOnly } from './platform-only.js';

const STREAM =
  'A server-sent event stream (text/event-stream; the session cookie authenticates an EventSource). ';
const NoQuery = z.strictObject({});
const idParams = z.object({ org: OrgParam, id: z.string().max(100) });
const componentParams = z.object({
  org: OrgParam,
  project: z.string().max(63),
  component: z.string().max(63),
});
const BUILD_ENDED = new Set(['succeeded', 'failed', 'cancelled', 'replaced', 'collected']);
/**
 * A watched component's status is read again at each change the store notifies, and at the latest
 * after this long while a rollout runs or otherwise: replicas' states come from the data plane,
 * which notifies nothing.
 */
const STATUS_BUSY_MS = 2000;
const STATUS_IDLE_MS = 10_000;
/** A status stream closes after this long; the browser reconnects, authenticated again. */
const STATUS_STREAM_MS = 10 * 60_000;

/**
 * Live views for the console (G4): a build's state and log, an execution's state and output, and
 * a component's per-environment status, pushed as they change. Authorization is the resource's own:
 * each stream starts with the same read as the matching GET.
 */
export function liveRoutes(
  app: Api,
  platform: { deploy?: DeployDeps; builds?: BuildUseDeps; tasks?: TaskDeps; changes?: ComponentChanges },
): void {
  const builds = platformOnly(platform.builds, 'a data plane to build with');
  const tasks = platformOnly(platform.tasks);
  const deploy = platformOnly(platform.deploy);
  const changes = platformOnly(platform.changes);

  app.get(
    '/orgs/:org/builds/:id/stream',
    {
      schema: {
        tags: ['builds'],
        description: `${STREAM}Events: build (the build without step logs, at the start and at each change), log ({text}: what the steps printed since, with a \`--- step\` line before each), progress ({line}: the running step's progress, not stored), end ({status}) once the build has ended.`,
        params: idParams,
        querystring: NoQuery,
        response: problemResponses,
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const org = orgName(ctx, req.params.org);
      return sendEventStream(req, reply, buildEvents(builds(), ctx, org, req.params.id, closedSignal(reply)));
    },
  );

  app.get(
    '/orgs/:org/executions/:id/stream',
    {
      schema: {
        tags: ['tasks'],
        description: `${STREAM}Events: execution (its state, at the start and at the end), log ({text}: its output as it is printed, secrets redacted), end ({status}).`,
        params: idParams,
        querystring: NoQuery,
        response: problemResponses,
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const org = orgName(ctx, req.params.org);
      return sendEventStream(req, reply, executionEvents(tasks(), ctx, org, req.params.id));
    },
  );

  app.get(
    '/orgs/:org/projects/:project/components/:component/status/stream',
    {
      schema: {
        tags: ['deployments'],
        description: `${STREAM}Events: status ({items}: what GET …/status answers), at the start and whenever it changes (a rollout's progress, replicas, events); builds ({}) and executions ({}) when the component's builds or task runs were created or changed state, so lists of them can be read again. The stream closes after 10 minutes and the browser reconnects.`,
        params: componentParams,
        querystring: NoQuery,
        response: problemResponses,
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const org = orgName(ctx, req.params.org);
      const { project, component } = req.params;
      return sendEventStream(
        req,
        reply,
        statusEvents(deploy(), changes(), ctx, org, project, component, closedSignal(reply)),
      );
    },
  );
}

async function* buildEvents(
  deps: BuildUseDeps,
  ctx: RequestContext,
  org: string,
  id: string,
  closed: AbortSignal,
): AsyncGenerator<ServerEvent> {
  const printed = new Map<string, number>();
  let state = '';
  let progress: string | undefined;
  while (!closed.aborted) {
    // Listening before reading: a write between the read and the wait still wakes this stream.
    const news = deps.changes.next(id, 1000);
    const build = await getBuild(deps, ctx, org, id);
    const view = { ...build, steps: build.steps.map(({ log: _log, ...step }) => step) };
    const now = JSON.stringify(view);
    if (now !== state) yield { event: 'build', data: view };
    state = now;
    let text = '';
    for (const s of build.steps) {
      const seen = printed.get(s.name) ?? 0;
      if (s.log.length > seen) {
        text += `${seen === 0 ? `--- ${s.name}\n` : ''}${s.log.slice(seen)}`;
        printed.set(s.name, s.log.length);
      }
    }
    const ended = BUILD_ENDED.has(build.status);
    if (ended) text += `--- ${build.status}${build.reason ? `: ${build.reason}` : ''}\n`;
    if (text) yield { event: 'log', data: { text } };
    const line = ended ? undefined : deps.changes.progressOf(id);
    if (line !== progress) yield { event: 'progress', data: { line: line ?? null } };
    progress = line;
    if (ended) {
      yield { event: 'end', data: { status: build.status } };
      return;
    }
    await news;
  }
}

async function* executionEvents(
  deps: TaskDeps,
  ctx: RequestContext,
  org: string,
  id: string,
): AsyncGenerator<ServerEvent> {
  const started = await getExecution(deps, ctx, org, id);
  yield { event: 'execution', data: started };
  for await (const text of executionLogText(deps, ctx, org, id, started.status === 'running')) {
    if (text) yield { event: 'log', data: { text } };
  }
  const ended = started.status === 'running' ? await getExecution(deps, ctx, org, id) : started;
  if (ended !== started) yield { event: 'execution', data: ended };
  yield { event: 'end', data: { status: ended.status } };
}

async function* statusEvents(
  deps: DeployDeps,
  changes: ComponentChanges,
  ctx: RequestContext,
  org: string,
  project: string,
  component: string,
  closed: AbortSignal,
): AsyncGenerator<ServerEvent> {
  // Listening before the first read: a change between the two still wakes this stream. The read
  // authorizes as GET …/status does (its refusals come before the first event).
  const { org: found } = await readInOrg(deps, ctx, org);
  const watch = changes.watch((await findComponent(deps.store.db, found.id, project, component)).id, closed);
  let items = await componentStatus(deps, ctx, org, project, component);
  let sent = '';
  const until = Date.now() + STATUS_STREAM_MS;
  for (;;) {
    const now = JSON.stringify(items);
    if (now !== sent) yield { event: 'status', data: { items } };
    sent = now;
    const busy = items.some((e) => e.latest?.status === 'pending' || e.latest?.status === 'rolling-out');
    const changed = await watch.take(Math.min(busy ? STATUS_BUSY_MS : STATUS_IDLE_MS, until - Date.now()));
    if (closed.aborted || Date.now() >= until) return;
    if (changed.has('builds')) yield { event: 'builds', data: {} };
    if (changed.has('executions')) yield { event: 'executions', data: {} };
    items = await componentStatus(deps, ctx, org, project, component);
  }
}
