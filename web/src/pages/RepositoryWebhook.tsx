import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { CopyButton, Field, fieldErrorsOf, Loading, ProblemView, RelativeTime } from '../ui';
import type { ComponentRef } from './Component';

/** The component repository's webhook: its URL per provider, a secret shown once, and polling. */
export function RepositoryWebhook({ org, project, component }: ComponentRef) {
  const queries = useQueryClient();
  const path = { path: { org, project, component } };
  const key = ['webhook', org, project, component];
  const hook = useQuery({
    queryKey: key,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/webhook', {
          params: path,
        }),
      ),
  });
  const rotate = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/v1/orgs/{org}/projects/{project}/components/{component}/webhook/secret', {
          params: path,
        }),
      ),
    onSettled: () => queries.invalidateQueries({ queryKey: key }),
  });
  const [pollEvery, setPollEvery] = useState('');
  const polling = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT('/api/v1/orgs/{org}/projects/{project}/components/{component}/webhook/polling', {
          params: path,
          body: { intervalSeconds: pollEvery.trim() ? Number(pollEvery) : null },
        }),
      ),
    onSuccess: (view) => queries.setQueryData(key, view),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    polling.mutate();
  };
  const errors = fieldErrorsOf(polling.error);
  return (
    <section aria-labelledby="webhook">
      <h2 id="webhook">Repository webhook</h2>
      {hook.isPending && <Loading what="the webhook" />}
      {hook.error && <ProblemView error={hook.error} />}
      {hook.data && (
        <>
          <p className="muted">
            {hook.data.configured ? (
              <>
                Set up; secret last changed <RelativeTime at={hook.data.rotatedAt} />.
              </>
            ) : (
              'Not set up: create a secret, then add the URL and the secret at your Git provider.'
            )}
          </p>
          {hook.data.configured && (
            <ul>
              {Object.entries(hook.data.urls).map(([provider, url]) => (
                <li key={provider}>
                  {provider}: <code>{url}</code> <CopyButton text={url} label={`${provider} webhook URL`} />
                </li>
              ))}
            </ul>
          )}
          <div className="actions">
            <button type="button" disabled={rotate.isPending} onClick={() => rotate.mutate()}>
              {hook.data.configured ? 'New webhook secret' : 'Create webhook secret'}
            </button>
          </div>
          {rotate.error && <ProblemView error={rotate.error} />}
          {rotate.data && (
            <p className="shown-once" aria-live="polite">
              Webhook secret (shown once; set it at the provider now): <code>{rotate.data.secret}</code>{' '}
              <CopyButton text={rotate.data.secret} label="webhook secret" />
            </p>
          )}
          <form onSubmit={submit} className="inline-form">
            <Field
              label="Poll every (seconds)"
              hint={
                hook.data.polling
                  ? `now every ${hook.data.polling.intervalSeconds} s${hook.data.polling.error ? `; last error: ${hook.data.polling.error}` : ''}; empty turns polling off`
                  : 'for repositories that cannot send webhooks; empty: off'
              }
              error={errors.intervalSeconds}
            >
              <input inputMode="numeric" value={pollEvery} onChange={(e) => setPollEvery(e.target.value)} />
            </Field>
            <button type="submit" disabled={polling.isPending}>
              Save polling
            </button>
          </form>
          {polling.error && <ProblemView error={polling.error} />}
        </>
      )}
    </section>
  );
}
