import type { Command } from 'commander';
import { DEBIAN_STACKS } from '../../builds/bootstrap-debian.js';
import type { ServerFlags } from './server-actions.js';

/** The server-side commands' work pulls in the whole control plane; other commands start without it. */
const actions = () => import('./server-actions.js');
const imageActions = () => import('./image-actions.js');

const STACKS = Object.keys(DEBIAN_STACKS).join(',');

export function registerServer(program: Command): void {
  const common = (cmd: Command) =>
    cmd
      .option('--port <port>', 'API port (default 7070, or RONDO_PORT)')
      .option('--host <host>', 'listen address (default 127.0.0.1, or RONDO_HOST)')
      .option('--data-dir <dir>', 'data directory (default ~/.rondo/data, or RONDO_DATA_DIR)');

  common(program.command('server').description('run the control plane in the foreground')).action(
    async (o: ServerFlags) => (await actions()).runServer(o),
  );
  common(
    program
      .command('up')
      .description('start Rondo in the background and print the API URL and the admin token'),
  )
    .option('--foreground', 'stay in the foreground (for supervisors)')
    .action(async (o: ServerFlags & { foreground?: boolean }) => (await actions()).up(o));
  const images = program.command('images').description('base images for builds');
  common(
    images
      .command('bootstrap')
      .description(
        'build the base images this site needs from the OS packages and push them to the platform registry',
      ),
  )
    .option('--stacks <list>', `Debian-based stacks to build (default all: ${STACKS}; '' for none)`)
    .option('--mirror <url>', 'Debian mirror for debootstrap (default http://deb.debian.org/debian)')
    .option('--if-missing', 'only when no base image is recorded and the official ones are unreachable')
    .action(async (o: ServerFlags & { stacks?: string; mirror?: string; ifMissing?: boolean }) =>
      (await imageActions()).bootstrapImages(o),
    );
  common(
    program.command('doctor').description('check each part of the platform and say how to fix what is wrong'),
  ).action(async (o: ServerFlags, cmd: Command) => (await actions()).doctor(o, cmd));
  common(
    program
      .command('supervise', { hidden: true })
      .description('restart what `rondo up` started when it dies'),
  ).action(async (o: ServerFlags) => (await import('./supervise-actions.js')).supervise(o));
  program
    .command('down')
    .description('stop what `rondo up` started')
    .option('--data-dir <dir>')
    .action(async (o: { dataDir?: string }) => (await actions()).down(o));
}
