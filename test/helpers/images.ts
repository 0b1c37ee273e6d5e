import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { pack } from 'tar-stream';

/** Label on every image the tests build, so teardown removes exactly those. */
export const TEST_IMAGE_LABEL = 'rondo.test-image';
/** Names the file that tells the run's teardown a test image was built (test/global-setup.ts). */
export const BUILT_MARK_VARIABLE = 'RONDO_TEST_BUILT_MARK';

/** Debian's static busybox: test images run it in `FROM scratch`. */
const BUSYBOX = execFileSync('sh', ['-c', 'command -v busybox']).toString().trim();

export const docker = new Docker({ socketPath: process.env.RONDO_DOCKER_SOCKET ?? '/var/run/docker.sock' });

export interface WebImage {
  /** What `GET /` answers. */
  body: string;
  /** Seconds before it starts listening. */
  delay?: number;
  /** Never listens: readiness never passes. */
  neverReady?: boolean;
  /** Stops listening after this many seconds but keeps running: liveness fails. */
  hangAfter?: number;
}

/**
 * A tiny `FROM scratch` image with Debian's static busybox serving `body` on port 8080 (no
 * registry needed). Built once per tag.
 */
export async function buildWebImage(tag: string, spec: WebImage): Promise<string> {
  if (await built(tag)) return tag;
  const serve = spec.neverReady
    ? 'exec sleep 100000'
    : spec.hangAfter !== undefined
      ? `httpd -p 8080 -h /www; sleep ${spec.hangAfter}; killall httpd; exec sleep 100000`
      : `sleep ${spec.delay ?? 0}; exec httpd -f -p 8080 -h /www`;
  const dockerfile = [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'COPY www /www',
    `LABEL ${TEST_IMAGE_LABEL}=1`,
    'ENTRYPOINT ["/bin/busybox", "sh", "-c"]',
    // The applets need a PATH to find each other through /bin/busybox.
    'ENV PATH=/bin',
    `CMD ["/bin/busybox --install -s /bin; ${serve}"]`,
  ].join('\n');
  return buildBusyboxImage(tag, dockerfile, { 'www/index.html': spec.body, 'www/healthz': 'ok' });
}

/**
 * A task image: busybox running /task.sh, which prints its arguments and acts on the first one
 * (`sleep N`, `exit N`, `secret`, `spam N`, `wget URL`, `partial TEXT`); with no arguments it runs `$MODE`
 * (from the configuration; default `echo`). ENTRYPOINT, so run arguments are appended.
 */
export async function buildTaskImage(tag: string): Promise<string> {
  if (await built(tag)) return tag;
  const script = [
    '/bin/busybox mkdir -p /tmp/bin && /bin/busybox --install -s /tmp/bin',
    'export PATH=/tmp/bin:/bin',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    '[ "$#" -eq 0 ] && set -- ${MODE:-echo} ${MODE_ARG:-}',
    'echo "task says: $*"',
    '[ -n "$GREETING" ] && echo "greeting=$GREETING"',
    'case "$1" in',
    '  sleep) echo "sleeping $2"; sleep "$2"; echo "slept $2";;',
    '  exit) exit "$2";;',
    '  secret) echo "the key is $API_KEY";;',
    '  spam) i=0; while [ $i -lt "$2" ]; do echo "line $i of spam"; i=$((i+1)); done;;',
    '  wget) wget -qO- "$2"; echo " (wget exit $?)";;',
    '  partial) printf "%s" "$2";;',
    'esac',
    '',
  ].join('\n');
  const dockerfile = [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'COPY task.sh /task.sh',
    `LABEL ${TEST_IMAGE_LABEL}=1`,
    'ENTRYPOINT ["/bin/busybox", "sh", "/task.sh"]',
  ].join('\n');
  return buildBusyboxImage(tag, dockerfile, { 'task.sh': script });
}

/** Builds `tag` (labelled as a test image) from a Dockerfile, the host's static busybox and `files`. */
export async function buildBusyboxImage(
  tag: string,
  dockerfile: string,
  files: Record<string, string>,
): Promise<string> {
  const mark = process.env[BUILT_MARK_VARIABLE];
  if (mark) writeFileSync(mark, tag);
  const tar = pack();
  tar.entry({ name: 'Dockerfile' }, dockerfile);
  tar.entry({ name: 'busybox', mode: 0o755 }, readFileSync(BUSYBOX));
  for (const [name, content] of Object.entries(files)) tar.entry({ name }, content);
  tar.finalize();
  const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, {
    t: tag,
    labels: { [TEST_IMAGE_LABEL]: '1' },
  });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = out?.find((o) => o.error);
      if (err || failed) reject(err ?? new Error(failed?.error));
      else resolve();
    }),
  );
  return tag;
}

/** True when `tag` is already built (test images are built once per run). */
async function built(tag: string): Promise<boolean> {
  return docker
    .getImage(tag)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

/** Removes every container and network a Rondo instance created (by its label). */
export async function cleanupInstance(instance: string): Promise<void> {
  const filters = { label: [`rondo.instance=${instance}`] };
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  const networks = await docker.listNetworks({ filters });
  await Promise.all(
    networks.map((n) =>
      docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined),
    ),
  );
  // The replicas' mounted files (tmpfs), which removing containers behind Rondo's back leaves.
  const files = '/dev/shm/rondo-files';
  if (existsSync(files))
    for (const name of readdirSync(files))
      if (name.startsWith(`rondo-${instance}.`)) rmSync(join(files, name), { recursive: true, force: true });
}

/** Runs a command inside a running container and returns its exit code and output. */
export async function execIn(
  containerId: string,
  cmd: string[],
): Promise<{ exitCode: number; output: string }> {
  const exec = await docker
    .getContainer(containerId)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const buf = Buffer.concat(chunks);
  let output = '';
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    output += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  const { ExitCode } = await exec.inspect();
  return { exitCode: ExitCode ?? -1, output };
}

/** The first running replica of a component in an environment, by Rondo's labels. */
export async function replicaOf(
  instance: string,
  project: string,
  component: string,
  environment: string,
): Promise<{ id: string; ip: string }> {
  const list = await docker.listContainers({
    filters: {
      label: [
        `rondo.instance=${instance}`,
        `rondo.project=${project}`,
        `rondo.component=${component}`,
        `rondo.environment=${environment}`,
      ],
    },
  });
  const first = list[0];
  if (!first) throw new Error(`no replica of ${project}/${component} in ${environment}`);
  const ip = Object.values(first.NetworkSettings.Networks)[0]?.IPAddress ?? '';
  return { id: first.Id, ip };
}

/** An HTTP GET from inside a container with busybox nc; returns the raw response ('' when nothing answered). */
export async function httpFrom(containerId: string, host: string, port: number, path = '/'): Promise<string> {
  const { output } = await execIn(containerId, [
    '/bin/busybox',
    'sh',
    '-c',
    // stdin stays open a moment: nc half-closes on EOF, which a proxy takes for a client that left.
    `(printf 'GET ${path} HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n'; sleep 2) | /bin/busybox nc -w 3 ${host} ${port} 2>&1`,
  ]);
  return output;
}

/** Removes images by reference (every tag given); a missing one is not an error. */
export async function removeImages(...refs: string[]): Promise<void> {
  for (const ref of refs)
    await docker
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
}

/** Removes every image carrying one of these labels (`key` or `key=value`): what a test or bench built. */
export async function removeImagesLabelled(...labels: string[]): Promise<void> {
  for (const label of labels) {
    // An image others are built on is refused until they are gone: repeat while passes remove some.
    for (let left = Infinity; ; ) {
      const images = await docker.listImages({ filters: { label: [label] } });
      if (images.length === 0 || images.length >= left) break;
      left = images.length;
      await Promise.all(
        images.map((i) =>
          docker
            .getImage(i.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
    }
  }
}
