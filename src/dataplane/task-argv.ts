/**
 * How a run's arguments reach the program (docs/tasks.md, "Arguments"): they are appended to the
 * image's process, word for word, whether the image has an ENTRYPOINT (Docker appends them) or
 * only a CMD (Docker would replace it, so the CMD is given again with the arguments after it).
 * A shell-form process (`sh -c "…"`, which would read them as `$0`, `$1`, … and drop them) gets
 * `"$@"` after its command line, so they still arrive as words, unsplit and unexpanded.
 */
export interface ImageProcess {
  entrypoint: string[];
  cmd: string[];
}

/** What the container is created with: an ENTRYPOINT to override, if any, and its CMD. */
export interface RunProcess {
  command?: string[];
  args: string[];
}

const SHELLS = new Set(['/bin/sh', 'sh', '/bin/bash', 'bash', '/bin/ash', 'ash']);

/** `[shell, -c, script]`, as Docker records the shell form of ENTRYPOINT and CMD. */
function shellScript(argv: string[]): string | undefined {
  return argv.length === 3 && SHELLS.has(argv[0]!) && argv[1] === '-c' ? argv[2] : undefined;
}

/** The shell form with the arguments after its command line. */
function withArguments(argv: string[], script: string): string[] {
  return [argv[0]!, '-c', `${script} "$@"`, argv[0]!];
}

export function runProcess(image: ImageProcess, args: string[]): RunProcess {
  if (image.entrypoint.length > 0) {
    const script = shellScript(image.entrypoint);
    return script === undefined ? { args } : { command: withArguments(image.entrypoint, script), args };
  }
  if (image.cmd.length === 0)
    throw new Error('the image names no program (no ENTRYPOINT or CMD); add an ENTRYPOINT to its Dockerfile');
  const script = shellScript(image.cmd);
  return { args: [...(script === undefined ? image.cmd : withArguments(image.cmd, script)), ...args] };
}
