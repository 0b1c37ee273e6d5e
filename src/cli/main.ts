#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { escapeControlCharacters } from '../domain/text.js';
import { registerAlerts } from './commands/alerts.js';
import { registerBuild } from './commands/build.js';
import { registerConfig } from './commands/config.js';
import { registerCreate, registerDelete, registerDescribe, registerList } from './commands/crud.js';
import { registerDeploy } from './commands/deploy.js';
import { registerEndpointPolicies } from './commands/endpoint-policies.js';
import { registerInsights } from './commands/insights.js';
import { registerLogs } from './commands/logs.js';
import { registerMetrics } from './commands/metrics.js';
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
registerLogs(program);
registerMetrics(program);
registerWebhooks(program);
registerInsights(program);
registerAlerts(program);
registerEndpointPolicies(program);

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
    // The message may quote what the server was sent or holds: no terminal controls.
    process.stderr.write(`Error: ${escapeControlCharacters(message)}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}
