import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { extract } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { contextArchive } from '../../src/builds/context-archive.js';

const root = mkdtempSync(join(tmpdir(), 'rondo-context-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

async function entries(dir: string, dockerfile?: string): Promise<string[]> {
  const names: string[] = [];
  const x = extract();
  x.on('entry', (header, stream, next) => {
    names.push(header.type === 'directory' ? `${header.name}/` : header.name);
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((resolve) => x.on('finish', () => resolve()));
  contextArchive(dir, dockerfile).pipe(x);
  await done;
  return names.sort();
}

describe('build context for the engine API', () => {
  it('leaves out .git and what .dockerignore names, with Docker’s rules and exceptions', async () => {
    const dir = tree('ignored', {
      Dockerfile: 'FROM scratch\n',
      '.dockerignore':
        '# comment\nnode_modules\n*.log\nsecrets/\n!secrets/public.pem\n**/*.tmp\nDockerfile\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      'node_modules/left-pad/index.js': 'x',
      'app.js': 'x',
      'debug.log': 'x',
      'src/deep/cache.tmp': 'x',
      'src/deep/main.js': 'x',
      'secrets/key.pem': 'x',
      'secrets/public.pem': 'x',
    });
    symlinkSync('app.js', join(dir, 'link.js'));
    expect(await entries(dir)).toEqual([
      '.dockerignore',
      'Dockerfile',
      'app.js',
      'link.js',
      'secrets/public.pem',
      'src/',
      'src/deep/',
      'src/deep/main.js',
    ]);
  });

  it('sends everything but .git without a .dockerignore, and always sends the Dockerfile in use', async () => {
    const dir = tree('plain', { 'build/Dockerfile.prod': 'FROM scratch\n', 'a.txt': 'a', '.git/HEAD': 'x' });
    expect(await entries(dir)).toEqual(['a.txt', 'build/', 'build/Dockerfile.prod']);
    writeFileSync(join(dir, '.dockerignore'), 'build\n');
    expect(await entries(dir, 'build/Dockerfile.prod')).toEqual([
      '.dockerignore',
      'a.txt',
      'build/Dockerfile.prod',
    ]);
  });

  it('adds labels to the Dockerfile it sends as one LABEL instruction, and leaves the file alone', async () => {
    const dir = tree('labelled', { 'docker/app.Dockerfile': 'FROM scratch\nCMD ["x"]', 'a.txt': 'a' });
    const sent = await contents(
      contextArchive(dir, 'docker/app.Dockerfile', { 'rondo.build': 'bld_1', 'rondo.built-by': 'a b' }),
    );
    expect(sent['docker/app.Dockerfile']).toBe(
      'FROM scratch\nCMD ["x"]\nLABEL rondo.build="bld_1" rondo.built-by="a b"\n',
    );
    expect(sent['a.txt']).toBe('a');
    expect(readFileSync(join(dir, 'docker/app.Dockerfile'), 'utf8')).toBe('FROM scratch\nCMD ["x"]');
  });

  it('sends a generated Dockerfile under a name its .dockerignore gives, so the engine drops it after reading', async () => {
    const plain = tree('generated', { 'index.html': 'hi', '.rondo.generated.Dockerfile': 'FROM evil' });
    const sent = await contents(contextArchive(plain, '.rondo.generated.Dockerfile', { a: 'b' }, 'FROM x'));
    expect(sent).toEqual({
      'index.html': 'hi',
      '.rondo.generated.Dockerfile': 'FROM x\nLABEL a="b"\n',
      // The application had no .dockerignore: this one names itself too.
      '.dockerignore': '.rondo.generated.Dockerfile\n.dockerignore',
    });
    const own = tree('generated-own', { 'index.html': 'hi', 'notes.md': 'n', '.dockerignore': '*.md' });
    const withOwn = await contents(contextArchive(own, '.rondo.generated.Dockerfile', {}, 'FROM x'));
    expect(Object.keys(withOwn).sort()).toEqual([
      '.dockerignore',
      '.rondo.generated.Dockerfile',
      'index.html',
    ]);
    expect(withOwn['.dockerignore']).toBe('*.md\n.rondo.generated.Dockerfile');
  });
});

/** Each file the archive holds, with its content. */
async function contents(archive: NodeJS.ReadableStream): Promise<Record<string, string>> {
  const sent: Record<string, string> = {};
  const x = extract();
  x.on('entry', (header, stream, next) => {
    let body = '';
    stream.on('data', (c) => {
      body += String(c);
    });
    stream.on('end', () => {
      if (header.type === 'file') sent[header.name] = body;
      next();
    });
  });
  const done = new Promise<void>((resolve) => x.on('finish', () => resolve()));
  archive.pipe(x);
  await done;
  return sent;
}
