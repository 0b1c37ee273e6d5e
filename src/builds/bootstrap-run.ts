import type { DockerImages } from '../dataplane/docker/docker-images.js';
import { buildStack, DEBIAN_STACKS, importDebian, type OutputLine, stackRecord } from './bootstrap-debian.js';
import { buildGatewayImage, buildStaticImage } from './bootstrap-images.js';
import type { BuildKitCli } from './buildkit-cli.js';
import type { BaseImages } from './presets.js';
import { describeLayers, formatBytes, PushLog } from './push-log.js';

/** What a person sees of a bootstrap. */
export interface BootstrapReport {
  /** A lasting line: an image started or ended, one of its layers was pushed. */
  line(text: string): void;
  /** The live state of one image's work (its last output, its layers in flight); `undefined` ends it. */
  live(key: string, text: string | undefined): void;
  /** Images now in the registry, to record. */
  built(images: BaseImages): void;
}

export interface BootstrapPlan {
  /** `host:port` of the platform registry. */
  registry: string;
  /** The Debian mirror debootstrap and apt use. */
  mirror: string;
  /** The Debian-based stacks to build (none: only `static`, and no debootstrap). */
  stacks: string[];
  /** Added to every image built (a bench marks its own, to remove exactly those). */
  labels?: Record<string, string>;
}

interface ImageJob {
  /** The image's tag once built (before its push). */
  tag: Promise<string>;
  /** Its digest once pushed. */
  digest: Promise<string>;
}

/**
 * `rondo images bootstrap`: the `static` and `gateway` images, and the Debian root debootstrapped once with every
 * stack built on it at the same time (BuildKit shares their package lists), each pushed as soon
 * as it is built. An image that fails does not stop the others; the bootstrap fails at the end,
 * naming them.
 */
export async function bootstrapBaseImages(
  deps: { images: DockerImages; buildkit: BuildKitCli },
  plan: BootstrapPlan,
  report: BootstrapReport,
): Promise<void> {
  const { images, buildkit } = deps;
  const { registry } = plan;
  const labels = plan.labels ?? {};
  const failed: string[] = [];

  /** One image: start and end lines, a live line while it works, one line per pushed layer. */
  const job = (
    name: string,
    what: string,
    make: (onLine: OutputLine) => Promise<string>,
    after: { start?: Promise<unknown>; push?: Promise<unknown> } = {},
  ): ImageJob => {
    let started = Date.now();
    const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
    const live = (text: string) => report.live(name, `${name} ${seconds()} s  ${text}`);
    const tag = (async () => {
      await after.start;
      started = Date.now();
      report.line(`▸ ${name}: ${what}`);
      return make(live);
    })();
    const digest = (async () => {
      const built = await tag;
      // Stacks wait for the Debian base's push, so its layer is pushed once and found after.
      await after.push;
      live('pushing');
      const push = new PushLog({
        line: (l) => report.line(`  ${name}: ${l}`),
        progress: (layers) => live(layers.length ? describeLayers(layers) : 'pushing'),
      });
      const d = await images.push(built, (e) => push.event(e));
      const size = await images.size(built);
      report.live(name, undefined);
      report.line(`✓ ${name}: ${formatBytes(size)} in ${seconds()} s`);
      return d;
    })();
    digest.catch((err: unknown) => {
      report.live(name, undefined);
      const reason = err instanceof Error ? err.message : String(err);
      report.line(`✗ ${name}: failed after ${seconds()} s: ${reason}`);
      failed.push(`${name} (${reason})`);
    });
    tag.catch(() => undefined); // reported through `digest`
    return { tag, digest };
  };

  for (const stack of plan.stacks)
    if (!Object.hasOwn(DEBIAN_STACKS, stack))
      throw new Error(`no Debian stack '${stack}' (known: ${Object.keys(DEBIAN_STACKS).join(', ')})`);
  const done: Promise<unknown>[] = [];
  // Recording what was pushed must not fail unseen (a data directory that cannot be written).
  const record = (name: string, images: BaseImages) => {
    try {
      report.built(images);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      report.line(`✗ ${name}: pushed, but not recorded: ${reason}`);
      failed.push(`${name} (not recorded: ${reason})`);
    }
  };
  const staticImage = job('static 2', 'busybox and caddy from this host', (onLine) =>
    buildStaticImage(images, registry, onLine, labels),
  );
  done.push(
    staticImage.digest.then((d) => record('static 2', { static: { '2': `${registry}/rondo/static@${d}` } })),
  );

  // Rondo's gateway inside Kubernetes data planes (G6): HAProxy from this host, as on it.
  const gatewayImage = job('gateway 1', 'busybox and haproxy from this host', (onLine) =>
    buildGatewayImage(images, registry, onLine, labels),
  );
  done.push(
    gatewayImage.digest.then((d) =>
      record('gateway 1', { gateway: { '1': `${registry}/rondo/gateway@${d}` } }),
    ),
  );

  if (plan.stacks.length > 0) {
    const debian = job('debian 12', `debootstrap bookworm from ${plan.mirror}`, (onLine) =>
      importDebian(images, registry, plan.mirror, onLine, labels),
    );
    const debianRef = debian.digest.then((d) => `${registry}/rondo/debian@${d}`);
    done.push(debian.digest);
    for (const stack of plan.stacks) {
      const s = DEBIAN_STACKS[stack]!;
      const built = job(
        `${stack} ${s.version}`,
        [
          s.packages.length ? `apt-get install ${s.packages.join(' ')}` : '',
          s.fromNpm ? `from the npm registry: ${s.fromNpm.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
        async (onLine) => buildStack(buildkit, registry, await debian.tag, stack, onLine, labels),
        { start: debian.tag.catch(() => undefined), push: debian.digest },
      );
      done.push(
        Promise.all([built.digest, debianRef]).then(([d, base]) =>
          record(`${stack} ${s.version}`, stackRecord(registry, stack, d, base)),
        ),
      );
    }
  }
  await Promise.allSettled(done);
  if (failed.length) throw new Error(`bootstrap failed for ${failed.join(', ')}`);
}
