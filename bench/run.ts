/** `npm run bench`: runs every benchmark and prints its figures. Never part of `make test`. */

import { benchBuilds } from './builds.js';
import { benchControlPlane } from './control-plane.js';
import { benchDataPlane } from './data-plane.js';
import { benchNodeBuilds } from './node-builds.js';
import { benchReleases } from './releases.js';
import { benchTasks } from './tasks.js';
import { benchWebhooks } from './webhooks.js';

const only = process.argv[2];
if (!only || only === 'control-plane') {
  console.log('# Control plane (F1): embedded store, 1,000 components');
  await benchControlPlane();
}
if (!only || only === 'data-plane') {
  console.log('\n# Data plane (F2): Docker engine, registry, Caddy');
  await benchDataPlane();
}
if (!only || only === 'builds') {
  console.log('\n# Builds (F3): dockerfile preset, real engine and registry');
  await benchBuilds();
}
if (!only || only === 'node-builds') {
  console.log(
    '\n# Builds (F3): nodejs preset on bootstrapped base images, npm registry through the CA bundle',
  );
  await benchNodeBuilds();
}
if (!only || only === 'releases') {
  console.log('\n# Releases (F4): promotion and config change, real engine and gateway');
  await benchReleases();
}
if (!only || only === 'tasks') {
  console.log('\n# Tasks (F5): scheduled and manual runs, real engine');
  await benchTasks();
}
if (!only || only === 'webhooks') {
  console.log('\n# Git automation (F6): webhooks, real engine and registry');
  await benchWebhooks();
}
