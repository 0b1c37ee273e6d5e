#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { registerBuild } from './commands/build.js';
import { registerConfig } from './commands/config.js';
import { registerCreate, registerDelete, registerDescribe, registerList } from './commands/crud.js';
import { registerDeploy } from './commands/deploy.js';
import { registerRelease } from './commands/release.js';
import { registerServer } from './commands/server.js';
import { registerSession } from './commands/session.js';
import { registerTasks } from './commands/tasks.js';
import { registerWebhooks } from './commands/webhooks.js';
import { UsageError } from './errors.js';

const program = new Command('rondo')
  .description('Rondo: build once, promote the same image through your environments')
  .option('--server <url>', 'Rondo API URL (or RONDO_SERVER)')
  .option('--org <name>', 'organization (or RONDO_ORG; default: your login’s default)')
  .addOption(new Option('-o, --output <format>', 'table, json or yaml').default('table'))
  .option('--debug', 'print stack traces')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerServer(program);
registerSession(program);
registerCreate(program);
registerList(program);
registerDescribe(program);
registerDelete(program);
registerDeploy(program);
registerBuild(program);
registerRelease(program);
registerConfig(program);
registerTasks(program);
registerWebhooks(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode =
      err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
        ? 0
        : 2;
  } else {
    const debug = process.argv.includes('--debug');
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`Error: ${message}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}
