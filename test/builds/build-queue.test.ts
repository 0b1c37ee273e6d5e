import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildQueue } from '../../src/builds/build-queue.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';

/** What a restarted control plane does with the builds the stopped one left (§4, F3). */
describe('build queue after a restart', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'rondo-build-queue-'));
  let t: TestRondo;

  beforeAll(async () => {
    t = await startTestRondo('pglite');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    const c = await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: 'https://example.com/a.git' },
        buildPreset: 'nodejs',
      },
    });
    expect(c.status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('fails the build that was running, drops its checkout, and runs the queued ones in order', async () => {
    const db = t.rondo.store.db;
    const c = await db.selectFrom('components').select(['id', 'org_id']).executeTakeFirstOrThrow();
    const row = (id: string, status: string, at: string) => ({
      id,
      org_id: c.org_id,
      component_id: c.id,
      commit: 'a'.repeat(40),
      requested_ref: 'branch:main',
      config_hash: id,
      status,
      steps: '[]',
      created_by: 'admin',
      created_at: new Date(at),
    });
    await db
      .insertInto('builds')
      .values([
        row('bld_running', 'running', '2026-01-01T00:00:00Z'),
        row('bld_second', 'queued', '2026-01-01T00:00:02Z'),
        row('bld_first', 'queued', '2026-01-01T00:00:01Z'),
        row('bld_done', 'succeeded', '2026-01-01T00:00:00Z'),
      ])
      .execute();
    // The interrupted build's checkout, and another build's that must stay.
    mkdirSync(join(workDir, 'bld_running', 'src'), { recursive: true });
    writeFileSync(join(workDir, 'bld_running', 'src', 'server.js'), 'x');
    mkdirSync(join(workDir, 'bld_done'));

    const ran: string[] = [];
    const queue = new BuildQueue(
      async (id) => {
        ran.push(id);
      },
      1,
      pino({ level: 'silent' }),
      t.rondo.store,
    );
    await queue.recover(t.rondo.store, workDir);
    await queue.idle();

    expect(ran).toEqual(['bld_first', 'bld_second']);
    const builds = await db.selectFrom('builds').select(['id', 'status', 'reason']).orderBy('id').execute();
    expect(builds).toEqual([
      { id: 'bld_done', status: 'succeeded', reason: null },
      { id: 'bld_first', status: 'queued', reason: null },
      {
        id: 'bld_running',
        status: 'failed',
        reason: 'interrupted: the control plane stopped during the build',
      },
      { id: 'bld_second', status: 'queued', reason: null },
    ]);
    expect(existsSync(join(workDir, 'bld_running'))).toBe(false);
    expect(existsSync(join(workDir, 'bld_done'))).toBe(true);
  });

  it('fails a build its run left running (a crash, or an end it did not record), and leaves ended ones alone', async () => {
    const db = t.rondo.store.db;
    const c = await db.selectFrom('components').select(['id', 'org_id']).executeTakeFirstOrThrow();
    const ids = ['bld_crashes', 'bld_forgets', 'bld_ends'];
    await db
      .insertInto('builds')
      .values(
        ids.map((id) => ({
          id,
          org_id: c.org_id,
          component_id: c.id,
          commit: 'b'.repeat(40),
          requested_ref: 'branch:main',
          config_hash: id,
          status: 'queued',
          steps: '[]',
          created_by: 'admin',
        })),
      )
      .execute();
    const claim = (id: string) =>
      db.updateTable('builds').set({ status: 'running' }).where('id', '=', id).execute();
    const queue = new BuildQueue(
      async (id) => {
        await claim(id);
        if (id === 'bld_crashes') throw new Error('boom\0');
        if (id === 'bld_ends')
          await db.updateTable('builds').set({ status: 'succeeded' }).where('id', '=', id).execute();
      },
      3,
      pino({ level: 'silent' }),
      t.rondo.store,
    );
    for (const id of ids) queue.enqueue(id);
    await queue.idle();
    const builds = await db
      .selectFrom('builds')
      .select(['id', 'status', 'reason'])
      .where('id', 'in', ids)
      .orderBy('id')
      .execute();
    expect(builds).toEqual([
      { id: 'bld_crashes', status: 'failed', reason: 'the build crashed: boom\ufffd' },
      { id: 'bld_ends', status: 'succeeded', reason: null },
      { id: 'bld_forgets', status: 'failed', reason: 'the build stopped without recording how it ended' },
    ]);
  });
});
