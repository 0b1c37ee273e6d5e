import type { Check } from './doctor-check.js';
import { runningPid } from './processes.js';
import { type PartRecord, readSupervisorRecord, SUPERVISOR } from './supervisor.js';

function howItDied(exit: NonNullable<PartRecord['lastExit']>): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  if (exit.code !== null) return `exited with code ${exit.code}`;
  // Adopted from `rondo up`: not the supervisor's child, so its exit status is not known.
  return 'exited';
}

function partDetail(p: PartRecord): string {
  const parts = [`restarted ${p.restarts} time${p.restarts === 1 ? '' : 's'}`];
  if (p.lastExit) parts.push(`last ${howItDied(p.lastExit)} at ${p.lastExit.at}`);
  if (p.lastRestartAt) parts.push(`back at ${p.lastRestartAt}`);
  if (p.state === 'restarting') parts.push('restarting now');
  if (p.state === 'failed') parts.push(`last restart failed: ${p.error ?? 'unknown'}`);
  return parts.join('; ');
}

/** What `rondo up`'s supervisor saw: whether it runs, and each part that died and came back. */
export function supervisorChecks(dataDir: string): Check[] {
  const record = readSupervisorRecord(dataDir);
  if (!record) return [];
  const pid = runningPid(dataDir, SUPERVISOR);
  const checks: Check[] = [
    {
      name: SUPERVISOR,
      ok: pid !== undefined,
      detail: pid
        ? `pid ${pid}, restarts ${Object.keys(record.parts).join(', ') || 'nothing'} when it dies`
        : 'not running: a part that dies stays down',
      fix: 'rondo up',
    },
  ];
  for (const [name, p] of Object.entries(record.parts)) {
    if (p.restarts === 0 && !p.lastExit && p.state === 'running') continue;
    checks.push({
      name: `${name} restarts`,
      ok: p.state === 'running',
      detail: partDetail(p),
      fix: `see ${name}'s log in ${dataDir}/logs`,
    });
  }
  return checks;
}
