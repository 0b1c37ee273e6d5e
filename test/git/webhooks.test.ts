import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { matchPush, repositoryKey } from '../../src/git/push-matching.js';
import {
  type Headers,
  type Provider,
  parseDelivery,
  signGeneric,
  verifyDelivery,
  WebhookRefused,
} from '../../src/git/webhook-events.js';

const SECRET = 'whsec_test_0123456789abcdef';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

// Shaped as the providers document their push payloads (trimmed to the fields Rondo reads and a few it does not).
const github = {
  ref: 'refs/heads/main',
  before: A,
  after: B,
  created: false,
  deleted: false,
  repository: {
    full_name: 'acme/shop',
    html_url: 'https://github.com/acme/shop',
    clone_url: 'https://github.com/acme/shop.git',
    ssh_url: 'git@github.com:acme/shop.git',
  },
  pusher: { name: 'dana' },
  commits: [
    { id: B, added: ['services/api/new.js'], removed: [], modified: ['README.md'] },
    { id: A, added: [], removed: ['web/old.css'], modified: [] },
  ],
  head_commit: { id: B },
};
const gitlab = {
  object_kind: 'push',
  ref: 'refs/heads/main',
  before: A,
  after: B,
  checkout_sha: B,
  project: {
    web_url: 'https://gitlab.example.com/acme/shop',
    git_ssh_url: 'git@gitlab.example.com:acme/shop.git',
    git_http_url: 'https://gitlab.example.com/acme/shop.git',
  },
  commits: [{ id: B, added: [], modified: ['web/index.html'], removed: [] }],
  total_commits_count: 1,
};
const bitbucket = {
  push: {
    changes: [
      {
        new: { type: 'branch', name: 'main', target: { hash: B } },
        old: { type: 'branch', name: 'main', target: { hash: A } },
        commits: [{ hash: B }],
      },
    ],
  },
  repository: { full_name: 'acme/shop', links: { html: { href: 'https://bitbucket.org/acme/shop' } } },
};

const sign = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
function signed(
  provider: Provider,
  payload: unknown,
  extra: Headers = {},
): { body: Buffer; headers: Headers } {
  const text = JSON.stringify(payload);
  const body = Buffer.from(text);
  const now = Math.floor(Date.now() / 1000);
  const headers: Record<Provider, Headers> = {
    github: { 'x-github-event': 'push', 'x-github-delivery': 'd-gh-1', 'x-hub-signature-256': sign(text) },
    gitlab: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': 'd-gl-1', 'x-gitlab-token': SECRET },
    bitbucket: { 'x-event-key': 'repo:push', 'x-request-uuid': 'd-bb-1', 'x-hub-signature': sign(text) },
    generic: {
      'x-rondo-delivery': 'd-gen-1',
      'x-rondo-timestamp': String(now),
      'x-rondo-signature': signGeneric(SECRET, now, text),
    },
  };
  return { body, headers: { ...headers[provider], ...extra } };
}
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookRefused) return { status: err.status, message: err.message };
    throw err;
  }
  return undefined;
};

describe('webhook verification', () => {
  const generic = {
    ref: 'refs/heads/main',
    before: A,
    after: B,
    repository: 'https://git.example.com/acme/shop.git',
  };
  for (const [provider, payload] of [
    ['github', github],
    ['gitlab', gitlab],
    ['bitbucket', bitbucket],
    ['generic', generic],
  ] as const) {
    it(`${provider}: accepts its own signature, refuses a wrong or missing one (401)`, () => {
      const { body, headers } = signed(provider, payload);
      expect(() => verifyDelivery(provider, body, headers, SECRET)).not.toThrow();
      expect(refusal(() => verifyDelivery(provider, body, headers, 'another-secret'))?.status).toBe(401);
      const tampered = Buffer.from(body.toString().replace('main', 'evil'));
      if (provider !== 'gitlab')
        expect(refusal(() => verifyDelivery(provider, tampered, headers, SECRET))?.status).toBe(401);
      const bare = Object.fromEntries(Object.entries(headers).filter(([k]) => !/signature|token/.test(k)));
      expect(refusal(() => verifyDelivery(provider, body, bare, SECRET))).toMatchObject({
        status: 401,
        message: expect.stringMatching(/^missing/),
      });
    });
  }

  it('generic: refuses a timestamp outside five minutes (a replayed capture)', () => {
    const { body, headers } = signed('generic', generic);
    const later = Date.now() + 301_000;
    expect(refusal(() => verifyDelivery('generic', body, headers, SECRET, later))?.message).toMatch(
      /within 300 s/,
    );
  });
});

describe('push payloads', () => {
  it('github: ref, commits, repository URLs and the files of every commit; ping is a ping', () => {
    const { body, headers } = signed('github', github);
    expect(parseDelivery('github', body, headers)).toEqual({
      kind: 'push',
      deliveryId: 'd-gh-1',
      event: {
        ref: 'refs/heads/main',
        before: A,
        after: B,
        repositoryUrls: [
          'https://github.com/acme/shop.git',
          'git@github.com:acme/shop.git',
          'https://github.com/acme/shop',
        ],
        changedFiles: ['services/api/new.js', 'README.md', 'web/old.css'],
      },
    });
    const ping = signed(
      'github',
      { zen: 'Keep it logically awesome.', hook_id: 1 },
      { 'x-github-event': 'ping' },
    );
    expect(parseDelivery('github', ping.body, ping.headers)).toEqual({ kind: 'ping', deliveryId: 'd-gh-1' });
    const issue = signed('github', {}, { 'x-github-event': 'issues' });
    expect(parseDelivery('github', issue.body, issue.headers)).toMatchObject({ kind: 'ignored' });
  });

  it('github: a deleted branch has no commit; a push of 20+ commits asks Git for the files', () => {
    const deleted = signed('github', { ...github, deleted: true, after: '0'.repeat(40), commits: [] });
    expect(parseDelivery('github', deleted.body, deleted.headers)).toMatchObject({ event: { after: null } });
    const many = { ...github, commits: Array.from({ length: 20 }, () => github.commits[0]) };
    const big = signed('github', many);
    expect(parseDelivery('github', big.body, big.headers)).toMatchObject({ event: { changedFiles: null } });
  });

  it('gitlab and bitbucket map to the same push', () => {
    const gl = signed('gitlab', gitlab);
    expect(parseDelivery('gitlab', gl.body, gl.headers)).toMatchObject({
      deliveryId: 'd-gl-1',
      event: { ref: 'refs/heads/main', after: B, changedFiles: ['web/index.html'] },
    });
    const bb = signed('bitbucket', bitbucket);
    expect(parseDelivery('bitbucket', bb.body, bb.headers)).toMatchObject({
      deliveryId: 'd-bb-1',
      event: {
        ref: 'refs/heads/main',
        before: A,
        after: B,
        changedFiles: null,
        repositoryUrls: ['https://bitbucket.org/acme/shop', 'https://bitbucket.org/acme/shop'],
      },
    });
  });

  it('refuses malformed deliveries with 400', () => {
    const notJson = { body: Buffer.from('{nope'), headers: signed('github', {}).headers };
    expect(refusal(() => parseDelivery('github', notJson.body, notJson.headers))?.status).toBe(400);
    const badRef = signed('github', { ...github, ref: 'main; rm -rf /' });
    expect(refusal(() => parseDelivery('github', badRef.body, badRef.headers))?.message).toMatch(
      /refs\/heads/,
    );
    const noId = signed('github', github);
    delete noId.headers['x-github-delivery'];
    expect(refusal(() => parseDelivery('github', noId.body, noId.headers))?.message).toMatch(/delivery id/);
  });
});

describe('matching a push to components', () => {
  const push = {
    ref: 'refs/heads/main',
    before: A,
    after: B,
    repositoryUrls: ['https://github.com/acme/shop.git'],
    changedFiles: null,
  };
  const api = {
    repoUrl: 'git@github.com:acme/shop.git',
    branch: 'main',
    path: 'services/api',
    watchPaths: [],
    buildTags: false,
  };
  const web = { ...api, path: 'web', watchPaths: ['shared/ui'] };

  it('normalizes https, ssh and web URLs of one repository to one key', () => {
    for (const u of [
      'https://github.com/acme/shop.git',
      'git@github.com:acme/shop.git',
      'https://GitHub.com/acme/shop/',
      'ssh://git@github.com/acme/shop',
    ])
      expect(repositoryKey(u)).toBe('github.com/acme/shop');
    expect(repositoryKey('file:///srv/git/shop.git')).toBe('file:/srv/git/shop');
  });

  it('a monorepo push that touches two components builds both; one that touches neither builds nothing', () => {
    const both = ['services/api/index.js', 'shared/ui/button.js'];
    expect(matchPush(push, both, api)).toEqual({ matches: true });
    expect(matchPush(push, both, web)).toEqual({ matches: true });
    expect(matchPush(push, ['docs/README.md'], api)).toEqual({
      matches: false,
      why: 'no changed file under services/api',
    });
    expect(matchPush(push, ['services/api-old/x.js'], api).matches).toBe(false);
    expect(matchPush(push, ['services/api/.rondo/component.yaml'], api).matches).toBe(true);
  });

  it('other branches, other repositories, deleted branches and tags (unless asked) do not match', () => {
    expect(matchPush({ ...push, ref: 'refs/heads/dev' }, ['services/api/x'], api)).toMatchObject({
      why: 'branch dev, not main',
    });
    expect(
      matchPush({ ...push, repositoryUrls: ['https://github.com/acme/other'] }, ['services/api/x'], api)
        .matches,
    ).toBe(false);
    expect(matchPush({ ...push, after: null }, ['services/api/x'], api).matches).toBe(false);
    expect(matchPush({ ...push, ref: 'refs/tags/v1' }, [], api).matches).toBe(false);
    expect(matchPush({ ...push, ref: 'refs/tags/v1' }, [], { ...api, buildTags: true }).matches).toBe(true);
  });
});

describe('GitHub’s own example payloads (@octokit/webhooks-examples)', () => {
  const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as {
    name: string;
    examples: Record<string, unknown>[];
  }[];
  const examples = (name: string) => definitions.find((d) => d.name === name)!.examples;
  const parse = (event: string, payload: unknown) => {
    const { body, headers } = signed('github', payload, { 'x-github-event': event });
    verifyDelivery('github', body, headers, SECRET);
    return parseDelivery('github', body, headers);
  };

  it('reads every push example: branch pushes with their files, created and deleted tags', () => {
    for (const example of examples('push')) {
      const parsed = parse('push', example);
      expect(parsed.kind).toBe('push');
      if (parsed.kind !== 'push') continue;
      expect(parsed.event.repositoryUrls).toContain('https://github.com/Codertocat/Hello-World.git');
      if (example.deleted) expect(parsed.event.after).toBeNull();
      else expect(parsed.event.after).toMatch(/^[0-9a-f]{40}$/);
      if (parsed.event.ref === 'refs/heads/master') {
        expect(parsed.event).toMatchObject({ before: null, changedFiles: ['README.md'] });
        const root = {
          repoUrl: 'git@github.com:Codertocat/Hello-World.git',
          branch: 'master',
          path: '.',
          watchPaths: [],
          buildTags: false,
        };
        expect(matchPush(parsed.event, parsed.event.changedFiles!, root)).toEqual({ matches: true });
        expect(matchPush(parsed.event, parsed.event.changedFiles!, { ...root, path: 'src' }).matches).toBe(
          false,
        );
      }
    }
  });

  it('answers the ping example as a ping', () => {
    expect(parse('ping', examples('ping')[0])).toMatchObject({ kind: 'ping' });
  });
});
