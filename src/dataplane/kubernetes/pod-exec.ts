import { PassThrough, Writable } from 'node:stream';
import { Exec, type V1Status } from '@kubernetes/client-node';
import type { Cluster } from './cluster.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The exit code a finished exec's status gives (0 on `Success`). */
export function exitCodeOf(status: V1Status): number {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  return Number.isInteger(code) ? code : -1;
}

const collect = (into: Buffer[]) =>
  new Writable({
    write(chunk: Buffer, _enc, done) {
      into.push(chunk);
      done();
    },
  });

/**
 * Runs `command` in a pod's container through the API server (`pods/exec`, a WebSocket), with
 * `stdin` as its input. The input is written and never ended: before the `v5` channel protocol
 * (Kubernetes 1.29) ending it closes the whole exec, so the command must read it to its length.
 */
export async function execInPod(
  cluster: Cluster,
  where: { namespace: string; pod: string; container: string },
  command: string[],
  stdin?: Buffer,
  timeoutMs = 30_000,
): Promise<ExecResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const input = stdin ? new PassThrough() : null;
  let settle: (status: V1Status | Error) => void = () => undefined;
  const finished = new Promise<V1Status | Error>((resolve) => {
    settle = resolve;
  });
  const ws = await cluster
    .call(() =>
      new Exec(cluster.kc).exec(
        where.namespace,
        where.pod,
        where.container,
        command,
        collect(out),
        collect(err),
        input,
        false,
        (status) => settle(status),
      ),
    )
    .catch((e: unknown) => {
      throw new Error(
        `exec in pod ${where.namespace}/${where.pod} refused: ${e instanceof Error ? e.message : e}`,
        { cause: e },
      );
    });
  ws.on('close', () => settle(new Error('the exec connection closed before the command ended')));
  ws.on('error', (e: Error) => settle(e));
  if (input && stdin) input.write(stdin);
  const timer = setTimeout(() => settle(new Error(`no end within ${timeoutMs / 1000} s`)), timeoutMs);
  const result = await finished;
  clearTimeout(timer);
  ws.close();
  if (result instanceof Error)
    throw new Error(`exec in pod ${where.namespace}/${where.pod}: ${result.message}`, { cause: result });
  return {
    code: exitCodeOf(result),
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}
