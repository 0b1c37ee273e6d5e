import type { WorkloadExit } from './engine.js';

interface EngineEvent {
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/**
 * Container stops from Docker's event stream (JSON objects, one per line; `die` and `oom`). The
 * engine reports an OOM kill as `oom` just before its `die`: the two become one exit.
 */
export async function* engineExits(raw: AsyncIterable<Buffer | string>): AsyncGenerator<WorkloadExit> {
  const oom = new Set<string>();
  let partial = '';
  for await (const chunk of raw) {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let e: EngineEvent;
      try {
        e = JSON.parse(line) as EngineEvent;
      } catch {
        continue;
      }
      const id = e.Actor?.ID ?? e.id ?? '';
      const action = e.Action ?? e.status;
      if (action === 'oom') oom.add(id);
      if (action !== 'die') continue;
      const { exitCode, name, ...labels } = e.Actor?.Attributes ?? {};
      yield { id, name: name ?? id, labels, exitCode: Number(exitCode ?? 0), oomKilled: oom.delete(id) };
    }
  }
}
