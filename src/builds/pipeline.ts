import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import { redact } from '../configuration/materialize.js';
import { sourceTokenOf } from '../configuration/source-token.js';
import { normalizeEndpoints } from '../control/components.js';
import { writeTerminalState } from '../control/terminal-write.js';
import type { DockerImages } from '../dataplane/docker/docker-images.js';
import { type BuildStepName, STEP_NAMES } from '../domain/build.js';
import type { BuildPreset, ComponentSource } from '../domain/component.js';
import { isSshPrivateKey } from '../domain/source.js';
import { storableError, storableText } from '../domain/storable-text.js';
import type { Keyring } from '../secrets/envelope.js';
import type { BuildStepRecord } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { BuildChanges } from './build-changes.js';
import { loadBuildInputs, withBuildInputs } from './build-inputs.js';
import type { BuildKitCli } from './buildkit-cli.js';
import { contextArchive } from './context-archive.js';
import { readDescriptor } from './descriptor-files.js';
import { checkFinalUser } from './dockerfile-policy.js';
import { componentDirectory, fetchSource } from './git-source.js';
import { type BaseImages, generateDockerfile } from './presets.js';
import { describeLayers, PushLog } from './push-log.js';
import { collectBuilds } from './retention.js';
import { scanForSecrets } from './secret-scan.js';
import { type StepProgress, stepProgress } from './step-progress.js';

export interface BuildDeps {
  store: Store;
  images: DockerImages;
  /** `host:port` of the platform registry. */
  registry: string;
  /** Where checkouts go (one folder per build, removed afterwards). */
  workDir: string;
  stepTimeoutMs: number;
  /** The whole build's limit (`RONDO_BUILD_TIMEOUT_SECONDS`); the running step is stopped when it passes. */
  buildTimeoutMs: number;
  /** Decrypts a private repository's token for the fetch. */
  keyring: Keyring;
  instance: string;
  logger: Logger;
  /** BuildKit through the docker CLI, for Dockerfiles with `RUN --mount`. */
  buildkit: BuildKitCli;
  /** The host's CA bundle, lent to builds as the `ca` secret (package registries over TLS). */
  caBundle: string;
  /** How many undeployed builds of a component keep their image (§4: default 5). */
  keepUndeployed: number;
  /**
   * Base images for generated Dockerfiles (`images.<stack>.<version>`), read for each build:
   * `rondo images bootstrap` records them while the control plane runs (`make up` does so).
   */
  baseImages: () => BaseImages;
  /** Called after a successful build of a component with auto-deploy on. */
  afterSuccess: (buildId: string) => Promise<void>;
  /** Told after each write of the build's record, for the followers of its log. */
  changes: BuildChanges;
}

/**
 * A generated Dockerfile's name in the context sent to the engine, which drops it after reading
 * it; BuildKit reads it from beside the checkout. Either way it never reaches the image.
 */
const GENERATED_DOCKERFILE = '.rondo.generated.Dockerfile';

/** Caps on what a step's log keeps, in characters: one line, and the whole step. */
const LINE_MAX_CHARS = 64 * 1024;
const STEP_LOG_MAX_CHARS = 4 * 1024 * 1024;

class StepFailed extends Error {}
class BuildCancelled extends Error {}

/** Runs one build through the steps of §4, recording each step's status, times and log. */
export async function runBuild(deps: BuildDeps, buildId: string): Promise<void> {
  const { store } = deps;
  const b = await store.db
    .selectFrom('builds as b')
    .innerJoin('components as c', 'c.id', 'b.component_id')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .innerJoin('organizations as o', 'o.id', 'b.org_id')
    .select([
      'b.id',
      'b.status',
      'b.commit',
      'c.id as component_id',
      'c.name as component',
      'c.type',
      'c.source',
      'c.build_preset',
      'c.build_configs',
      'c.auto_deploy',
      'p.name as project',
      'o.name as org',
    ])
    .where('b.id', '=', buildId)
    .executeTakeFirst();
  if (b?.status !== 'queued') return;
  const steps: BuildStepRecord[] = STEP_NAMES.map((name) => ({ name, status: 'queued', log: '' }));
  const save = async (extra: Record<string, unknown> = {}) => {
    await store.db
      .updateTable('builds')
      .set({ steps: JSON.stringify(steps), ...extra })
      .where('id', '=', buildId)
      .execute();
    deps.changes.changed(buildId);
  };
  // Claimed atomically, with the commit as it is now: a push may move a queued build to a newer one.
  const claimed = await store.db
    .updateTable('builds')
    .set({ status: 'running', steps: JSON.stringify(steps) })
    .where('id', '=', buildId)
    .where('status', '=', 'queued')
    .returning('commit')
    .executeTakeFirst();
  if (!claimed) return;
  deps.changes.changed(buildId);
  b.commit = claimed.commit;
  const dir = join(deps.workDir, buildId);
  // One signal stops the running step: the build's deadline, or a cancel seen in the store.
  const stop = new AbortController();
  const deadline = setTimeout(
    () =>
      stop.abort(
        new StepFailed(
          `the build exceeded its ${Math.round(deps.buildTimeoutMs / 1000)} s limit (RONDO_BUILD_TIMEOUT_SECONDS) and was stopped`,
        ),
      ),
    deps.buildTimeoutMs,
  );
  const watch = setInterval(() => {
    void store.db
      .selectFrom('builds')
      .select('status')
      .where('id', '=', buildId)
      .executeTakeFirst()
      .then((r) => {
        if (r?.status === 'cancelled') stop.abort(new BuildCancelled());
      })
      .catch(() => undefined);
  }, 1000);
  const state: {
    componentDir?: string;
    tag?: string;
    image?: string;
    descriptor?: ReturnType<typeof readDescriptor>;
    presetPort?: number;
  } = {};

  const step = async (
    name: BuildStepName,
    work: (log: (line: string) => void, progress: StepProgress) => Promise<unknown>,
  ) => {
    const s = steps.find((x) => x.name === name)!;
    const current = await store.db
      .selectFrom('builds')
      .select('status')
      .where('id', '=', buildId)
      .executeTakeFirst();
    if (current?.status === 'cancelled') throw new BuildCancelled();
    s.status = 'running';
    s.startedAt = new Date().toISOString();
    await save();
    // Logs reach the store at most twice a second while a step runs, so followers see them live.
    let flush: NodeJS.Timeout | undefined;
    const progress = stepProgress(deps.changes, buildId, name);
    let capped = false;
    // What the step prints (git, the engine, BuildKit) is made storable line by line; a step that
    // prints without end keeps its first STEP_LOG_MAX_CHARS, and its failure line always.
    const log = (line: string, always = false) => {
      progress.saw(line);
      if (s.log.length < STEP_LOG_MAX_CHARS || always)
        s.log += `${storableText(line, { maxChars: LINE_MAX_CHARS })}\n`;
      else if (!capped) {
        capped = true;
        s.log += `[rondo: this step's log reached ${STEP_LOG_MAX_CHARS} characters; later lines are not kept]\n`;
      }
      flush ??= setTimeout(() => {
        flush = undefined;
        void save().catch(() => undefined);
      }, 500);
    };
    try {
      if (stop.signal.aborted) throw stop.signal.reason;
      const aborted = new Promise<never>((_, reject) =>
        stop.signal.addEventListener('abort', () => reject(stop.signal.reason), { once: true }),
      );
      aborted.catch(() => undefined);
      const skipped = await Promise.race([work(log, progress), aborted]);
      s.status = typeof skipped === 'string' ? 'skipped' : 'succeeded';
      if (typeof skipped === 'string') log(skipped);
    } catch (err) {
      if (err instanceof BuildCancelled) {
        s.status = 'failed';
        log('cancelled');
        throw err;
      }
      s.status = 'failed';
      log(err instanceof Error ? err.message : String(err), true);
      throw new StepFailed(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      if (flush) clearTimeout(flush);
      progress.stop();
      s.endedAt = new Date().toISOString();
      await save();
    }
  };

  try {
    const source = b.source as ComponentSource;
    if (source.kind !== 'git') throw new StepFailed('init: an image component is not built');
    await step('init', async (log) => {
      mkdirSync(dir, { recursive: true });
      const token = await sourceTokenOf(store.db, deps.keyring, b.component_id);
      const credential = token ? (isSshPrivateKey(token) ? 'SSH key' : 'access token') : undefined;
      log(`fetching ${source.repoUrl} at ${b.commit}${credential ? ` with the stored ${credential}` : ''}`);
      const checkout = join(dir, 'src');
      const fetched = await fetchSource({
        repoUrl: source.repoUrl,
        ref: { commit: b.commit! },
        dir: checkout,
        componentPath: source.path,
        timeoutMs: deps.stepTimeoutMs,
        ...(token ? { token } : {}),
      });
      // The build context is the tree at that commit, not the repository: `COPY . .` would put
      // the git metadata in the image (and a static site would serve it).
      rmSync(join(checkout, '.git'), { recursive: true, force: true });
      state.componentDir = fetched.componentDir;
      if (fetched.committedAt)
        await store.db
          .updateTable('builds')
          .set({ committed_at: fetched.committedAt })
          .where('id', '=', buildId)
          .execute();
      state.descriptor = readDescriptor(fetched.componentDir, b.type);
      log(
        state.descriptor
          ? `descriptor ${state.descriptor.file}: ${state.descriptor.endpoints.length} endpoint(s)`
          : 'no descriptor; endpoints come from the component',
      );
    });
    await step('scan-source', async (log) => {
      const findings = await scanForSecrets(state.componentDir!);
      if (findings.length === 0) {
        log('no secrets found (secretlint, recommended rules)');
        return;
      }
      const where = findings
        .slice(0, 20)
        .map((f) => `${f.file}:${f.line} (${f.rule.replace('@secretlint/secretlint-rule-', '')})`);
      // Only where and which rule: the value itself never reaches a log or the API.
      throw new Error(
        `found ${findings.length} possible secret(s): ${where.join(', ')}; remove them from the repository, or list known false positives in .secretlintignore`,
      );
    });
    await step('build', async (rawLog) => {
      const configs = b.build_configs;
      const inputs = await loadBuildInputs(store.db, deps.keyring, b.component_id);
      const secretValues = Object.values(inputs.secrets);
      // A build that prints a secret shows *** instead (the step log is what people read).
      const log = (line: string) => rawLog(redact(line, secretValues));
      let context: string;
      let dockerfileInContext: string;
      let text: string;
      let generatedAt: string | undefined;
      if (b.build_preset === 'dockerfile') {
        context = componentDirectory(state.componentDir!, configs.dockerContext ?? '.');
        const dockerfile = resolve(state.componentDir!, configs.dockerFilePath ?? 'Dockerfile');
        dockerfileInContext = relative(context, dockerfile);
        if (dockerfileInContext.startsWith(`..${sep}`) || dockerfileInContext === '..') {
          throw new Error(
            `dockerFilePath '${configs.dockerFilePath}' is outside dockerContext '${configs.dockerContext ?? '.'}'`,
          );
        }
        try {
          text = readFileSync(dockerfile, 'utf8');
        } catch {
          throw new Error(`dockerFilePath '${configs.dockerFilePath}' does not exist at this commit`);
        }
        const policy = checkFinalUser(text);
        if (policy) throw new Error(`Dockerfile policy: ${policy}`);
      } else {
        const generated = generateDockerfile(
          b.build_preset as BuildPreset,
          state.componentDir!,
          configs,
          deps.baseImages(),
          b.type,
        );
        text = withBuildInputs(generated.dockerfile, inputs);
        for (const from of generated.dockerfile.matchAll(/^FROM (\S+)/gm))
          await deps.images.ensure(from[1]!, log);
        state.presetPort = generated.port;
        context = state.componentDir!;
        dockerfileInContext = GENERATED_DOCKERFILE;
        generatedAt = join(dir, 'Dockerfile');
        writeFileSync(generatedAt, `${text}\n`);
        log(`generated Dockerfile:\n${text}`);
      }
      state.tag = `${deps.registry}/${b.org}/${b.project}/${b.component}:${b.commit!.slice(0, 12)}`;
      // Not `rondo.instance`: containers inherit image labels, and that label marks what the
      // reconciler owns (it would remove any container someone runs from this image).
      const labels = { 'rondo.build': buildId, 'rondo.built-by': deps.instance };
      const names = [...Object.keys(inputs.args), ...Object.keys(inputs.secrets)];
      if (names.length) log(`build scope: ${names.join(', ')}`);
      // Secret files live beside the checkout, outside the context, only while the build runs.
      // Ids are the user's configuration keys (`__proto__` is one): no prototype to swallow them.
      const secretFiles: Record<string, string> = Object.create(null);
      if (secretValues.length) mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
      for (const [id, value] of Object.entries(inputs.secrets)) {
        secretFiles[id] = join(dir, 'secrets', id);
        writeFileSync(secretFiles[id]!, value, { mode: 0o600 });
      }
      if (/--mount=/.test(text) || secretValues.length) {
        // Mounts (the CA bundle as a secret) need BuildKit, which the Engine API path cannot drive.
        log('building with BuildKit (the Dockerfile uses RUN --mount)');
        await deps.buildkit.build(
          {
            contextDir: context,
            dockerfile: generatedAt ?? join(context, dockerfileInContext),
            tag: state.tag,
            labels,
            secrets: { ca: deps.caBundle, ...secretFiles },
            buildArgs: inputs.args,
          },
          log,
          deps.stepTimeoutMs,
          stop.signal,
        );
        return;
      }
      const started = Date.now();
      await deps.images.build(
        {
          context: contextArchive(
            context,
            dockerfileInContext,
            labels,
            generatedAt === undefined ? undefined : text,
          ),
          dockerfile: dockerfileInContext,
          tag: state.tag,
          buildArgs: inputs.args,
          signal: stop.signal,
        },
        (line) => log(`${String(Date.now() - started).padStart(6)} ms  ${line}`),
      );
    });
    await step('scan-image', async () => 'skipped: no image scanner is configured yet');
    await step('push', async (log, progress) => {
      // One line per layer and the digest; the bytes in flight only in the live progress line.
      const pushLog = new PushLog({
        line: log,
        progress: (layers) => progress.detail(layers.length ? describeLayers(layers) : undefined),
      });
      const digest = await deps.images.push(state.tag!, (e) => pushLog.event(e));
      state.image = `${state.tag!.replace(/:[^:/]+$/, '')}@${digest}`;
      log(`pushed ${state.image}`);
    });
    await step('update-endpoints', async (log) => {
      if (!state.descriptor) {
        // Without a descriptor a service gets one Public endpoint on the preset's port (§2).
        const current = await store.db
          .selectFrom('components')
          .select('endpoints')
          .where('id', '=', b.component_id)
          .executeTakeFirstOrThrow();
        if (current.endpoints.length > 0 || state.presetPort === undefined)
          return 'skipped: no descriptor; the component keeps its endpoints';
        const endpoints = normalizeEndpoints([{ port: state.presetPort }]);
        await store.db
          .updateTable('components')
          .set({ endpoints: JSON.stringify(endpoints), updated_at: new Date() })
          .where('id', '=', b.component_id)
          .execute();
        log(`no descriptor: one Public endpoint on the preset's port ${state.presetPort}`);
        return;
      }
      await store.db
        .updateTable('components')
        .set({ endpoints: JSON.stringify(state.descriptor.endpoints), updated_at: new Date() })
        .where('id', '=', b.component_id)
        .execute();
      const shown = (e: (typeof state.descriptor.endpoints)[number]) =>
        `${e.name}:${e.port}${e.declaredName ? ` (declared as "${e.declaredName}")` : ''}`;
      log(`endpoints: ${state.descriptor.endpoints.map(shown).join(', ') || 'none'}`);
    });
    const now = await store.db
      .selectFrom('builds')
      .select('status')
      .where('id', '=', buildId)
      .executeTakeFirst();
    if (now?.status === 'cancelled') throw new BuildCancelled();
    // Retention runs before the build reports success, so whoever sees `succeeded` sees the
    // older images already collected.
    await save({ image: state.image!, descriptor: JSON.stringify(state.descriptor ?? {}) });
    await collectBuilds(store, b.component_id, deps.keepUndeployed, deps.logger, buildId);
    await save({ status: 'succeeded', finished_at: new Date() });
    if (b.auto_deploy) await deps.afterSuccess(buildId);
  } catch (err) {
    for (const s of steps) if (s.status === 'queued') s.status = 'skipped';
    if (err instanceof BuildCancelled) {
      await save({ finished_at: new Date() }).catch(() => undefined);
      return;
    }
    const reason = storableError(err);
    deps.logger.warn({ build: buildId, reason }, 'build failed');
    // Written until it lands: a build left `running` would keep its followers waiting forever.
    await writeTerminalState(
      deps.logger,
      `build ${buildId}`,
      () => save({ status: 'failed', reason, finished_at: new Date() }),
      async (whyNot) => {
        await store.db
          .updateTable('builds')
          .set({
            status: 'failed',
            reason: storableText(`${reason} (the build's log could not be stored: ${whyNot})`),
            finished_at: new Date(),
          })
          .where('id', '=', buildId)
          .execute();
        deps.changes.changed(buildId);
      },
    );
  } finally {
    clearTimeout(deadline);
    clearInterval(watch);
    rmSync(dir, { recursive: true, force: true });
  }
}
