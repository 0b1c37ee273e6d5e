import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What a preset-built image runs, decided at build time (docs/tasks.md, "Arguments"): the
 * `runCommand` build config, else the Procfile's `web` process (or its only one), else an entry
 * point the preset detects. The image's ENTRYPOINT is that command in exec form and it has no CMD,
 * so a task run's arguments are appended to the program's argv and never read by a shell.
 */
export interface StartCommand {
  /** ENTRYPOINT, exec form. */
  argv: string[];
  /** Where it came from, for the build log. */
  source: string;
}

export class StartCommandError extends Error {}

/** A Procfile's processes, in order (`name: command`; `web:cmd` without a space too, as Choreo's samples write it). */
export function parseProcfile(text: string): [string, string][] {
  const processes: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_-]+)[ \t]*:[ \t]*(.*?)[ \t]*$/.exec(line);
    if (m?.[2]) processes.push([m[1]!, m[2]]);
  }
  return processes;
}

/** The Procfile process an image runs: `web`, or the only one there is. */
export function procfileProcess(dir: string): { name: string; command: string } | undefined {
  const file = join(dir, 'Procfile');
  if (!existsSync(file)) return undefined;
  const processes = parseProcfile(readFileSync(file, 'utf8'));
  const web = processes.find(([name]) => name === 'web');
  const [name, command] = web ?? (processes.length === 1 ? processes[0]! : []);
  if (name && command) return { name, command };
  if (processes.length === 0)
    throw new StartCommandError(
      'the Procfile names no process; write one line such as "web: python main.py"',
    );
  throw new StartCommandError(
    `the Procfile has processes ${processes.map(([n]) => n).join(', ')} and none is named web; name the one to run "web", or set runCommand`,
  );
}

/**
 * A command line as argv, or `undefined` when it needs a shell: variables, globs, redirections,
 * pipes, lists, escapes, comments or an assignment before the program. Quotes group words.
 */
export function simpleWords(command: string): string[] | undefined {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (const ch of command) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (quote === '"' && /[$`\\]/.test(ch)) return undefined;
      else word += ch;
    } else if (ch === ' ' || ch === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (/[$`\\|&;<>()*?[\]~{}#!\n\r]/.test(ch)) return undefined;
    else word = (word ?? '') + ch;
  }
  if (quote) return undefined;
  if (word !== undefined) words.push(word);
  if (words.length === 0 || words[0]!.includes('=')) return undefined;
  return words;
}

/**
 * A command line as an ENTRYPOINT: its words when it is a simple command (the program is the
 * container's first process); otherwise `sh -c` with `"$@"` after it, so arguments still arrive
 * as words, unsplit and unexpanded. `$0` is the name shown in the shell's own errors.
 */
export function entrypointOf(command: string, name: string, shell = true): string[] {
  const words = simpleWords(command);
  if (words) return words;
  if (!shell)
    throw new StartCommandError(
      `"${command}" needs a shell, and this image has none; write it as a plain command (no $, quotes with escapes, |, ;, &&, >)`,
    );
  return ['/bin/sh', '-c', `${command} "$@"`, name];
}

/** runCommand, then the Procfile; `undefined` when neither is given and the preset decides. */
export function declaredStart(
  dir: string,
  runCommand: string | undefined,
  shell = true,
): StartCommand | undefined {
  if (runCommand?.trim())
    return {
      argv: entrypointOf(runCommand.trim(), 'runCommand', shell),
      source: 'the runCommand build config',
    };
  const procfile = procfileProcess(dir);
  if (procfile)
    return {
      argv: entrypointOf(procfile.command, procfile.name, shell),
      source: `the Procfile's ${procfile.name} process`,
    };
  return undefined;
}

/** The first of `candidates` (file, argv) present in `dir`. */
export function detectedStart(dir: string, candidates: [string, string[]][]): StartCommand | undefined {
  for (const [file, argv] of candidates)
    if (existsSync(join(dir, file))) return { argv, source: `${file}, found in the component directory` };
  return undefined;
}

/** The error for a component whose source names nothing to run. */
export function nothingToStart(preset: string, lookedFor: string[], example: string): StartCommandError {
  return new StartCommandError(
    `the ${preset} preset found nothing to run: no runCommand build config, no Procfile, and none of ${lookedFor.join(', ')} in the component directory; add a Procfile such as "web: ${example}", or set runCommand`,
  );
}
