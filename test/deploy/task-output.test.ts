import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLACEMENT } from '../../src/domain/storable-text.js';
import { buildBusyboxImage, TEST_IMAGE_LABEL } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';
import { DRIVERS } from '../helpers/stores.js';

const JOB = '/api/v1/orgs/default/projects/ops/components/job';

/** A task that prints NUL, invalid UTF-8 and terminal escapes, then exits with 3. */
async function buildHostileTaskImage(): Promise<string> {
  const script = [
    "/bin/busybox printf 'before\\000nul \\377\\376 bad utf-8 \\033[31mred\\033[0m\\r\\n'",
    "/bin/busybox printf 'last line\\n'",
    'exit 3',
    '',
  ].join('\n');
  return buildBusyboxImage(
    'rondo-test-task:hostile-output',
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY task.sh /task.sh',
      `LABEL ${TEST_IMAGE_LABEL}=1`,
      'ENTRYPOINT ["/bin/busybox", "sh", "/task.sh"]',
    ].join('\n'),
    { 'task.sh': script },
  );
}

/** What a run prints is kept as it can be stored; the run's end is always recorded (G2). */
describe.each(DRIVERS)('a task whose output the store would refuse (%s)', (driver) => {
  let t: PlatformTestRondo;
  beforeAll(async () => {
    const image = await buildHostileTaskImage();
    t = await startPlatformRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'ops' } });
    const c = await t.call('POST', '/api/v1/orgs/default/projects/ops/components', {
      body: { name: 'job', type: 'manual-task', source: { image } },
    });
    expect(c.status).toBe(201);
    const d = await t.call('POST', `${JOB}/deployments`, { body: { environment: 'development' } });
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
  });
  afterAll(() => t?.close());

  it('ends with its exit code and keeps its output with NUL and invalid UTF-8 replaced', async () => {
    const r = await t.call('POST', `${JOB}/executions`, { body: { environment: 'development' } });
    expect(r.status).toBe(202);
    const deadline = Date.now() + 30_000;
    let x = r.body;
    while (x.status === 'running' && Date.now() < deadline) {
      await sleep(100);
      x = (await t.call('GET', `/api/v1/orgs/default/executions/${r.body.id}`)).body;
    }
    expect(x).toMatchObject({ status: 'failed', exitCode: 3, reason: 'exited with code 3' });
    const logs = await t.call('GET', `/api/v1/orgs/default/executions/${r.body.id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body).toBe(`before${REPLACEMENT}nul ${REPLACEMENT}${REPLACEMENT} bad utf-8 red\nlast line\n`);
  });
});
