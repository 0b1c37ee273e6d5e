import { describe, expect, it } from 'vitest';
import type { PushEvent } from '../dataplane/docker/docker-images.js';
import { describeLayers, formatBytes, type LayerProgress, PushLog } from './push-log.js';

const BASE = 'a1b2c3d4e5f6';
const APP = '3f2a9c8b7d61';
const CONFIG = '9e8d7c6b5a40';
const DIGEST = `sha256:${'4c'.repeat(32)}`;

/** What engine 20.10 sends for a two-layer image whose base is already in the registry (trimmed). */
function recordedPush(): PushEvent[] {
  const pushing = (id: string, current: number, total: number): PushEvent => ({
    status: 'Pushing',
    progressDetail: { current, total },
    id,
  });
  return [
    { status: 'The push refers to repository [127.0.0.1:7073/default/shop/web]' },
    { status: 'Preparing', progressDetail: {}, id: APP },
    { status: 'Preparing', progressDetail: {}, id: BASE },
    { status: 'Preparing', progressDetail: {}, id: CONFIG },
    { status: 'Waiting', progressDetail: {}, id: CONFIG },
    { status: 'Layer already exists', progressDetail: {}, id: BASE },
    pushing(APP, 512, 41_200_000),
    pushing(APP, 10_000_000, 41_200_000),
    pushing(CONFIG, 1_024, 3_000),
    pushing(APP, 30_000_000, 41_200_000),
    pushing(CONFIG, 3_000, 3_000),
    { status: 'Pushed', progressDetail: {}, id: CONFIG },
    pushing(APP, 41_200_000, 41_200_000),
    { status: 'Pushed', progressDetail: {}, id: APP },
    // Some engines repeat a layer's end; it is still one line.
    { status: 'Pushed', progressDetail: {}, id: APP },
    { status: `v1: digest: ${DIGEST} size: 740` },
    { progressDetail: {}, aux: { Tag: 'v1', Digest: DIGEST, Size: 740 } },
  ];
}

describe('push log', () => {
  it('says one line per layer (its size and time, or that the registry had it), then the digest', () => {
    const lines: string[] = [];
    let clock = 0;
    const log = new PushLog({ line: (l) => lines.push(l) }, () => clock);
    for (const e of recordedPush()) {
      log.event(e);
      clock += 300;
    }
    expect(lines).toEqual([
      `layer ${BASE} already in the registry`,
      `layer ${CONFIG} 3.0 kB pushed in 0.9 s`,
      `layer ${APP} 41.2 MB pushed in 2.1 s`,
      `digest ${DIGEST}`,
    ]);
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('reports the bytes of the layers in flight as they move, and none after they end', () => {
    const seen: LayerProgress[][] = [];
    const log = new PushLog({ line: () => undefined, progress: (l) => seen.push(l) });
    for (const e of recordedPush()) log.event(e);
    expect(seen[0]).toEqual([{ id: APP, done: 512, total: 41_200_000 }]);
    expect(seen).toContainEqual([
      { id: APP, done: 30_000_000, total: 41_200_000 },
      { id: CONFIG, done: 1_024, total: 3_000 },
    ]);
    expect(seen.at(-1)).toEqual([]);
    expect(describeLayers([{ id: APP, done: 10_000_000, total: 41_200_000 }])).toBe(
      `layer ${APP} 10.0 MB / 41.2 MB`,
    );
  });

  it('names a layer mounted from another repository as already there', () => {
    const lines: string[] = [];
    const log = new PushLog({ line: (l) => lines.push(l) });
    log.event({ status: 'Mounted from rondo/debian', progressDetail: {}, id: BASE });
    expect(lines).toEqual([`layer ${BASE} already in the registry (mounted from rondo/debian)`]);
  });

  it('times and sizes a small layer the engine pushes without a total, from when it was named', () => {
    const lines: string[] = [];
    let clock = 0;
    const log = new PushLog({ line: (l) => lines.push(l) }, () => clock);
    log.event({ status: 'Preparing', progressDetail: {}, id: CONFIG });
    clock = 200;
    log.event({ status: 'Pushed', progressDetail: {}, id: CONFIG });
    log.event({ status: 'Preparing', progressDetail: {}, id: APP });
    log.event({ status: 'Pushing', progressDetail: { current: 2_326 }, id: APP });
    clock = 300;
    log.event({ status: 'Pushed', progressDetail: {}, id: APP });
    expect(lines).toEqual([`layer ${CONFIG} pushed in 0.2 s`, `layer ${APP} 2.3 kB pushed in 0.1 s`]);
  });

  it('formats sizes in decimal units', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(41_234_567)).toBe('41.2 MB');
    expect(formatBytes(1_500_000_000)).toBe('1.5 GB');
  });
});
