import { buildBusyboxImage, TEST_IMAGE_LABEL } from '../helpers/images.js';
import type { ContractImage } from './driver-contract.js';

/** The variable whose shell script the contract image's process runs. */
export const SCRIPT_VARIABLE = 'RONDO_TEST_SCRIPT';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The contract's image for a data plane that runs real images: `FROM scratch` with the host's
 * static busybox, whose ENTRYPOINT (exec form, so a run's arguments are appended as `$1`, `$2`,
 * …) evaluates `$RONDO_TEST_SCRIPT`. Built once per tag (labelled, so the test run's teardown
 * removes it). A data plane that pulls from a registry pushes `ref` there first.
 */
export async function buildContractImage(tag = 'rondo-test-contract:v1'): Promise<ContractImage> {
  const run = [
    '/bin/busybox mkdir -p /tmp/bin && /bin/busybox --install -s /tmp/bin',
    'export PATH=/tmp/bin:/bin',
    `eval "$${SCRIPT_VARIABLE}"`,
    '',
  ].join('\n');
  const ref = await buildBusyboxImage(
    tag,
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY run.sh /run.sh',
      `LABEL ${TEST_IMAGE_LABEL}=1`,
      'ENTRYPOINT ["/bin/busybox", "sh", "/run.sh"]',
    ].join('\n'),
    { 'run.sh': run },
  );
  return busyboxContractImage(ref);
}

/** The behaviours of `buildContractImage`'s image, as the scripts its process runs. */
export function busyboxContractImage(ref: string): ContractImage {
  const script = (text: string) => ({ [SCRIPT_VARIABLE]: text });
  return {
    ref,
    serve: (port, printEnv = []) => {
      for (const n of printEnv) if (!NAME.test(n)) throw new Error(`not a variable name: ${n}`);
      const prints = printEnv.map((n) => `printf '%s\\n' "${n}=$${n}"; `).join('');
      // httpd -f stays in the foreground; any directory serves for a TCP (or `GET /`) probe.
      return script(`${prints}exec httpd -f -p ${Math.trunc(port)} -h /tmp`);
    },
    exitWith: (code) => script(`exit ${Math.trunc(code)}`),
    printArgs: (code) => script(`for a in "$@"; do printf '%s\\n' "$a"; done; exit ${Math.trunc(code)}`),
  };
}
