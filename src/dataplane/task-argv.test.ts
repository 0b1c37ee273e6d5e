import { describe, expect, it } from 'vitest';
import { runProcess } from './task-argv.js';

describe("a run's arguments after the image's process", () => {
  const args = ['a b', "it's", '--', '$HOME'];

  it('exec-form ENTRYPOINT: Docker appends them; the image CMD (default arguments) gives way, as in Docker', () => {
    expect(runProcess({ entrypoint: ['node', 'job.js'], cmd: [] }, args)).toEqual({ args });
    expect(runProcess({ entrypoint: ['python'], cmd: ['main.py'] }, args)).toEqual({ args });
    // A generated image's shell command line already takes "$@".
    expect(runProcess({ entrypoint: ['/bin/sh', '-c', 'cd x && ./run "$@"', 'web'], cmd: [] }, args)).toEqual(
      { args },
    );
  });

  it('CMD only: the CMD is kept and they come after it (Docker would run them as the program)', () => {
    expect(runProcess({ entrypoint: [], cmd: ['python3', 'main.py'] }, args)).toEqual({
      args: ['python3', 'main.py', ...args],
    });
  });

  it('shell form: "$@" after the command line, so the shell passes them on as words', () => {
    expect(runProcess({ entrypoint: [], cmd: ['/bin/sh', '-c', 'python3 main.py'] }, args)).toEqual({
      args: ['/bin/sh', '-c', 'python3 main.py "$@"', '/bin/sh', ...args],
    });
    expect(runProcess({ entrypoint: ['/bin/sh', '-c', 'exec ruby app.rb'], cmd: ['ignored'] }, args)).toEqual(
      {
        command: ['/bin/sh', '-c', 'exec ruby app.rb "$@"', '/bin/sh'],
        args,
      },
    );
  });

  it('an image with no program is an error that says what to add', () => {
    expect(() => runProcess({ entrypoint: [], cmd: [] }, args)).toThrow(
      'the image names no program (no ENTRYPOINT or CMD); add an ENTRYPOINT to its Dockerfile',
    );
  });
});
