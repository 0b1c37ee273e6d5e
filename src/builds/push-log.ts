import type { PushEvent } from '../dataplane/docker/docker-images.js';

/** Where a push's story goes: lasting lines, and the live state of the layers in flight. */
export interface PushReport {
  /** One line per layer when it ends, then the digest; never the same line twice. */
  line(text: string): void;
  /** The layers in flight as `id → bytes done / total`; called again when they change. */
  progress?(layers: LayerProgress[]): void;
}

export interface LayerProgress {
  id: string;
  done: number;
  total: number;
}

interface Layer {
  id: string;
  /** When the engine first named it (a small layer may go from Preparing to Pushed). */
  seenAt: number;
  startedAt?: number;
  done: number;
  total: number;
  ended: boolean;
}

/**
 * Turns the engine's push events (hundreds of Preparing / Waiting / Pushing lines) into what a
 * person reads: `layer 3f2a1b2c4d5e 41.2 MB pushed in 1.8 s`, `… already in the registry`, then
 * the digest.
 */
export class PushLog {
  readonly #report: PushReport;
  readonly #now: () => number;
  readonly #layers = new Map<string, Layer>();
  #digest?: string;

  constructor(report: PushReport, now: () => number = Date.now) {
    this.#report = report;
    this.#now = now;
  }

  /** Feeds one engine event. */
  event(e: PushEvent): void {
    if (e.aux?.Digest) {
      this.#digestSeen(e.aux.Digest);
      return;
    }
    const id = e.id;
    const status = e.status ?? '';
    if (!id) {
      // `TAG: digest: sha256:… size: N` precedes the aux event on some engines.
      const m = /digest: (sha256:[0-9a-f]{64})/.exec(status);
      if (m?.[1]) this.#digestSeen(m[1]);
      return;
    }
    const layer = this.#layers.get(id) ?? { id, seenAt: this.#now(), done: 0, total: 0, ended: false };
    this.#layers.set(id, layer);
    if (layer.ended) return;
    if (status === 'Pushing') {
      layer.startedAt ??= this.#now();
      layer.done = e.progressDetail?.current ?? layer.done;
      layer.total = e.progressDetail?.total ?? layer.total;
      this.#progress();
    } else if (status === 'Pushed') {
      layer.ended = true;
      const seconds = (this.#now() - (layer.startedAt ?? layer.seenAt)) / 1000;
      // The engine leaves the total out for some small layers; what was sent is then the size.
      const bytes = Math.max(layer.total, layer.done);
      const size = bytes > 0 ? `${formatBytes(bytes)} ` : '';
      this.#report.line(`layer ${id} ${size}pushed in ${seconds.toFixed(1)} s`);
      this.#progress();
    } else if (status === 'Layer already exists') {
      layer.ended = true;
      this.#report.line(`layer ${id} already in the registry`);
    } else if (status.startsWith('Mounted from ')) {
      layer.ended = true;
      this.#report.line(`layer ${id} already in the registry (${status.toLowerCase()})`);
    }
  }

  /** The layers in flight. */
  inFlight(): LayerProgress[] {
    return [...this.#layers.values()]
      .filter((l) => !l.ended && l.startedAt !== undefined)
      .map(({ id, done, total }) => ({ id, done, total }));
  }

  #digestSeen(digest: string): void {
    if (this.#digest === digest) return;
    this.#digest = digest;
    this.#report.line(`digest ${digest}`);
  }

  #progress(): void {
    this.#report.progress?.(this.inFlight());
  }
}

/** `12.3 MB / 41.2 MB` for each layer in flight, for a progress line. */
export function describeLayers(layers: LayerProgress[]): string {
  return layers
    .map((l) => `layer ${l.id} ${formatBytes(l.done)}${l.total > 0 ? ` / ${formatBytes(l.total)}` : ''}`)
    .join(', ');
}

/** Decimal units, as the engine and registries count. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
