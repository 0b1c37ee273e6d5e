/**
 * F6 benchmarks, with the control plane listening on HTTP and the real engine and registry:
 *  - verified webhook → build queued: 200 signed GitHub push deliveries, one at a time, each
 *    timed from sending to the 202 that names the queued build; p50/p99;
 *  - a burst of 50 pushes to one branch (real commits, delivered back to back): how many builds
 *    start, and whether the newest commit is the one built last.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRepo } from '../test/helpers/git.js';
import { removeImagesLabelled } from '../test/helpers/images.js';
import { startPlatformRondo, startRegistry } from '../test/helpers/platform.js';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;

export async function benchWebhooks(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-hooks-'));
  const registry = await startRegistry(dir);
  const t = await startPlatformRondo('pglite', {}, { registry: registry.addr });
  const repoPath = join(dir, 'shop');
  try {
    const repo = createRepo(repoPath);
    mkdirSync(join(repoPath, 'api', 'www'), { recursive: true });
    copyFileSync(
      execFileSync('sh', ['-c', 'command -v busybox']).toString().trim(),
      join(repoPath, 'api', 'busybox'),
    );
    repo.commit({
      'api/Dockerfile':
        'FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nUSER 10014\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n',
      'api/www/index.html': 'v0',
    });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    const C = '/api/v1/orgs/default/projects/shop/components';
    await t.call('POST', C, {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: `file://${repoPath}`, branch: 'main', path: 'api' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
        autoBuild: true,
      },
    });
    const hook = (await t.call('POST', `${C}/api/webhook/secret`)).body;
    const url = `${t.apiUrl}${new URL(hook.urls.github).pathname}`;
    let n = 0;
    const deliver = async (before: string, after: string) => {
      const body = JSON.stringify({
        ref: 'refs/heads/main',
        before,
        after,
        repository: { clone_url: `file://${repoPath}` },
        commits: [{ id: after, added: [], removed: [], modified: ['api/www/index.html'] }],
      });
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': `bench-${++n}`,
          'x-hub-signature-256': `sha256=${createHmac('sha256', hook.secret).update(body).digest('hex')}`,
        },
        body,
      });
      const answer = (await res.json()) as { outcome: string; builds?: { build: string }[] };
      if (res.status !== 202 || !answer.builds?.length)
        throw new Error(`delivery ${n}: ${res.status} ${JSON.stringify(answer)}`);
      return answer.builds[0]!.build;
    };

    // Latency: one delivery per real commit, in order, while the builds they start run.
    const pushed: string[] = [repo.git('rev-parse', 'HEAD')];
    for (let i = 0; i < 210; i++) {
      repo.commit({ 'api/www/index.html': `l${i}` });
      pushed.push(repo.git('rev-parse', 'HEAD'));
    }
    const latency: number[] = [];
    for (let i = 1; i < pushed.length; i++) {
      const t0 = performance.now();
      await deliver(pushed[i - 1]!, pushed[i]!);
      latency.push(performance.now() - t0);
    }
    const sample = latency.slice(10);
    console.log(
      `verified webhook → build queued      p50 ${pct(sample, 50).toFixed(1)} ms, p99 ${pct(sample, 99).toFixed(1)} ms over ${sample.length} deliveries (target p99 < 100 ms)`,
    );
    await t.rondo.buildQueue?.idle();

    // Burst: 50 real commits pushed one after the other, delivered back to back.
    const before = (await t.rondo.store.db.selectFrom('builds').select('id').execute()).length;
    const commits: string[] = [];
    let previous = repo.git('rev-parse', 'HEAD');
    for (let i = 1; i <= 50; i++) {
      repo.commit({ 'api/www/index.html': `v${i}` });
      commits.push(repo.git('rev-parse', 'HEAD'));
    }
    for (const c of commits) {
      await deliver(previous, c);
      previous = c;
    }
    await t.rondo.buildQueue?.idle();
    await sleep(200);
    const burst = await t.rondo.store.db
      .selectFrom('builds')
      .select(['id', 'commit', 'status', 'created_at'])
      .orderBy('created_at')
      .execute();
    const started = burst.slice(before);
    const newest = commits[commits.length - 1];
    const last = started[started.length - 1];
    console.log(
      `burst of 50 pushes                   ${started.length} builds (target: far fewer than 50); the last built ${last?.commit === newest ? 'the newest commit' : `commit ${last?.commit}`} (${last?.status})`,
    );
  } finally {
    await t.rondo.buildQueue?.idle();
    await t.close();
    registry.stop();
    await removeImagesLabelled('rondo.build');
    rmSync(dir, { recursive: true, force: true });
  }
}
