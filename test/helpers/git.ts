import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface TestRepo {
  path: string;
  /** Runs git in the repository and returns its trimmed output. */
  git: (...args: string[]) => string;
  /** Writes the files (paths relative to the repository), commits everything, returns the commit id. */
  commit: (files: Record<string, string | Buffer>, message?: string) => string;
}

/** A real Git repository on disk, on branch main, made by the test. */
export function createRepo(path: string): TestRepo {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'rondo-test',
    GIT_AUTHOR_EMAIL: 'test@rondo.invalid',
    GIT_COMMITTER_NAME: 'rondo-test',
    GIT_COMMITTER_EMAIL: 'test@rondo.invalid',
  };
  execFileSync('git', ['init', '-q', '-b', 'main', path]);
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', path, ...args], { env })
      .toString()
      .trim();
  return {
    path,
    git,
    commit(files, message = 'change') {
      for (const [file, content] of Object.entries(files)) {
        mkdirSync(dirname(join(path, file)), { recursive: true });
        writeFileSync(join(path, file), content);
      }
      git('add', '-A');
      git('commit', '-q', '-m', message);
      return git('rev-parse', 'HEAD');
    },
  };
}
