import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import type { ApprovalRequest, EnvironmentStatus } from '../api/types';
import { CopyButton, Empty, Loading, ProblemView, RelativeTime, Status } from '../ui';
import type { ComponentRef } from './Component';
import { DeploymentHistory } from './DeploymentHistory';

const IN_PROGRESS = new Set(['pending', 'rolling-out']);

/** The Deploy view: a card per environment, left to right in pipeline order. */
export function DeployView({ org, project, component }: ComponentRef) {
  const statusKey = ['status', org, project, component];
  const status = useQuery({
    queryKey: statusKey,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/status', {
          params: { path: { org, project, component } },
        }),
      ),
  });
  // Rollout progress, replicas and events arrive through the component page's stream
  // (component-live.ts), which writes this query's data.
  // Approval requests: read when the page opens, after each action, on focus, and when the status
  // stream reports a change.
  const approvalsKey = ['approvals', org, project, component];
  const approvals = useQuery({
    queryKey: approvalsKey,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/approvals', {
          params: { path: { org }, query: { status: 'pending', component } },
        }),
      ).items.filter((r) => r.project === project),
    refetchOnWindowFocus: true,
  });

  if (status.isPending) return <Loading what="environments" />;
  if (status.error) return <ProblemView error={status.error} />;
  if (status.data.items.length === 0) {
    return <Empty>This project's pipeline has no environments; an organization admin adds them.</Empty>;
  }
  const envs = status.data.items;
  return (
    <>
      <ol className="cards" aria-label="Environments in pipeline order">
        {envs.map((env, i) => (
          <EnvironmentCard
            key={env.environment}
            env={env}
            next={envs[i + 1]?.environment}
            first={i === 0}
            target={{ org, project, component }}
            waiting={approvals.data?.filter((r) => r.environment === env.environment) ?? []}
          />
        ))}
      </ol>
      <DeploymentHistory target={{ org, project, component }} version={status.dataUpdatedAt} />
    </>
  );
}

type Action = 'deploy' | 'promote' | 'rollback' | 'redeploy';

function EnvironmentCard({
  env,
  next,
  first,
  target,
  waiting,
}: {
  env: EnvironmentStatus;
  next: string | undefined;
  first: boolean;
  target: ComponentRef;
  waiting: ApprovalRequest[];
}) {
  const queries = useQueryClient();
  const path = { path: target };
  const environment = env.environment;
  const act = useMutation({
    mutationFn: async (action: Action) => {
      const base = '/api/v1/orgs/{org}/projects/{project}/components/{component}' as const;
      if (action === 'deploy') {
        unwrap(await api.POST(`${base}/deployments`, { params: path, body: { environment } }));
        return `Deploying to ${environment}.`;
      }
      if (action === 'promote') {
        const done = unwrap(
          await api.POST(`${base}/promotions`, { params: path, body: { from: environment, to: next } }),
        );
        return done.approvalRequest
          ? `Promotion to ${next} waits for approval (${done.approvalRequest.approvals}/${done.approvalRequest.required}).`
          : `Promoting to ${next}.`;
      }
      if (action === 'rollback') {
        unwrap(await api.POST(`${base}/rollbacks`, { params: path, body: { environment } }));
        return `Rolling ${environment} back.`;
      }
      unwrap(await api.POST(`${base}/redeployments`, { params: path, body: { environment } }));
      return `Redeploying ${environment}.`;
    },
    onSettled: () => refresh(),
  });
  const refresh = () =>
    Promise.all([
      queries.invalidateQueries({ queryKey: ['status', target.org, target.project, target.component] }),
      queries.invalidateQueries({ queryKey: ['approvals', target.org, target.project, target.component] }),
    ]);
  const shown = env.active ?? env.latest;
  const rolling = env.latest && env.latest.id !== env.active?.id ? env.latest : null;
  const busy = act.isPending || IN_PROGRESS.has(env.latest?.status ?? '');

  return (
    <li className="card" aria-labelledby={`env-${environment}`}>
      <h3 id={`env-${environment}`}>{environment}</h3>
      {shown ? (
        <dl>
          <dt>Status</dt>
          <dd>
            <Status value={shown.status} /> {env.replicas.running}/{env.replicas.desired} replicas
          </dd>
          <dt>Release</dt>
          <dd>{shown.release ?? '—'}</dd>
          <dt>Deployment</dt>
          <dd>
            {shown.name ?? '—'} <RelativeTime at={shown.createdAt} />
          </dd>
          <dt>Image</dt>
          <dd className="digest">
            <code>{shown.image}</code> <CopyButton text={shown.image} label={`${environment} image`} />
          </dd>
          {env.urls.length > 0 && (
            <>
              <dt>URLs</dt>
              <dd>
                {env.urls.map((u) => (
                  <span key={u.url} className="url">
                    <a href={u.url}>{u.url}</a> <CopyButton text={u.url} label={`${u.endpoint} URL`} />
                  </span>
                ))}
              </dd>
            </>
          )}
          {shown.reason && (
            <>
              <dt>Reason</dt>
              <dd>{shown.reason}</dd>
            </>
          )}
        </dl>
      ) : (
        <p className="muted">Nothing deployed here yet.</p>
      )}
      {rolling && (
        <p className="rollout" aria-live="polite">
          {IN_PROGRESS.has(rolling.status) ? 'Rolling out' : 'Last attempt'} {rolling.name ?? rolling.id}:{' '}
          <Status value={rolling.status} />
          {rolling.reason && ` ${rolling.reason}`}
        </p>
      )}
      {env.active && pendingKeys(env).length > 0 && (
        <p className="pending-config">
          Configuration changed since this deployment ({pendingKeys(env).join(', ')}); deploy again to apply
          it.
        </p>
      )}
      {waiting.map((r) => (
        <ApprovalNotice key={r.id} request={r} org={target.org} onDecided={refresh} />
      ))}
      <div className="actions">
        {first && (
          <button type="button" disabled={busy} onClick={() => act.mutate('deploy')}>
            Deploy
          </button>
        )}
        {env.active && next && (
          <button type="button" disabled={busy} onClick={() => act.mutate('promote')}>
            Promote to {next}
          </button>
        )}
        {env.active && (
          <>
            <button type="button" disabled={busy} onClick={() => act.mutate('rollback')}>
              Roll back
            </button>
            <button type="button" disabled={busy} onClick={() => act.mutate('redeploy')}>
              Redeploy
            </button>
          </>
        )}
      </div>
      {act.data && <p aria-live="polite">{act.data}</p>}
      {act.error && <ProblemView error={act.error} />}
    </li>
  );
}

/** A promotion into this environment waiting for reviewers; the API decides who may approve. */
function ApprovalNotice({
  request,
  org,
  onDecided,
}: {
  request: ApprovalRequest;
  org: string;
  onDecided: () => Promise<unknown>;
}) {
  const decide = useMutation({
    mutationFn: async (decision: 'approve' | 'reject') => {
      const params = { path: { org, id: request.id } };
      if (decision === 'approve')
        unwrap(await api.POST('/api/v1/orgs/{org}/approvals/{id}/approve', { params, body: {} }));
      else unwrap(await api.POST('/api/v1/orgs/{org}/approvals/{id}/reject', { params, body: {} }));
    },
    onSettled: () => onDecided(),
  });
  return (
    <section className="approval" aria-label={`Approval request for ${request.environment}`}>
      <p>
        Promotion of release {request.release} from {request.from} waits for approval ({request.approvals}/
        {request.required}), asked by {request.requestedBy} <RelativeTime at={request.createdAt} />.
      </p>
      <div className="actions">
        <button type="button" disabled={decide.isPending} onClick={() => decide.mutate('approve')}>
          Approve
        </button>
        <button type="button" disabled={decide.isPending} onClick={() => decide.mutate('reject')}>
          Reject
        </button>
      </div>
      {decide.error && <ProblemView error={decide.error} />}
    </section>
  );
}

function pendingKeys(env: EnvironmentStatus): string[] {
  const p = env.pendingConfig;
  return [...p.added, ...p.changed, ...p.removed];
}
