import type { PlatformTestRondo } from '../test/helpers/platform.js';

export interface BuildStep {
  name: string;
  startedAt?: string;
  endedAt?: string;
}

export interface TimedBuild {
  /** From the request to the build's record saying `succeeded` (the server and the bench share a clock). */
  ms: number;
  build: {
    id: string;
    finishedAt: string;
    steps: BuildStep[];
    requested: number;
    answered: number;
    seen: number;
  };
}

/**
 * Requests a build and follows its log over HTTP until it ends, as `rondo build --follow` does.
 * Polling the build's record instead cost the server CPU that the build it measured was competing
 * for, and `docker build` pays no such tax.
 */
export async function timedBuild(
  t: PlatformTestRondo,
  buildsPath: string,
  body: object,
): Promise<TimedBuild> {
  const requested = Date.now();
  const res = await t.call('POST', buildsPath, { body });
  const answered = Date.now();
  const id = res.body.build.id;
  const log = await fetch(`${t.apiUrl}/api/v1/orgs/default/builds/${id}/logs?follow=1`, {
    headers: { authorization: `Bearer ${t.adminToken}` },
  });
  await log.text();
  const seen = Date.now();
  const b = (await t.call('GET', `/api/v1/orgs/default/builds/${id}`)).body;
  if (b.status !== 'succeeded') throw new Error(`build ${b.status}: ${b.reason}`);
  return { ms: Date.parse(b.finishedAt) - requested, build: { ...b, requested, answered, seen } };
}

/** Each step's duration, e.g. `init 61 ms, scan-source 2 ms, …`. */
export function stepTimes(steps: BuildStep[]): string {
  return steps
    .map((s) =>
      s.startedAt && s.endedAt
        ? `${s.name} ${Date.parse(s.endedAt) - Date.parse(s.startedAt)} ms`
        : `${s.name} -`,
    )
    .join(', ');
}
