/** `npm run bench`: runs every benchmark and prints its figures. Never part of `make test`. */

import { benchAlertPass } from './alert-pass.js';
import { benchBootstrap } from './bootstrap.js';
import { benchBuilds } from './builds.js';
import { benchConsole } from './console.js';
import { benchControlPlane } from './control-plane.js';
import { benchDataPlane } from './data-plane.js';
import { benchFaults } from './faults.js';
import { benchGateway } from './gateway.js';
import { benchGatewayFeatures } from './gateway-features.js';
import { benchGatewayInstructions } from './gateway-instructions.js';
import { benchGatewayPolicies } from './gateway-policies.js';
import { benchKubePromotion } from './kube-promotion.js';
import { benchKubeReconcileIdle } from './kube-reconcile-idle.js';
import { benchMetrics } from './metrics.js';
import { benchNodeBuilds } from './node-builds.js';
import { benchObservability } from './observability.js';
import { benchReconcileIdle } from './reconcile-idle.js';
import { benchReleases } from './releases.js';
import { benchTasks } from './tasks.js';
import { benchWebhooks } from './webhooks.js';

const only = process.argv[2];
if (!only || only === 'control-plane') {
  console.log('# Control plane (F1): embedded store, 1,000 components');
  await benchControlPlane();
}
if (!only || only === 'reconcile-idle') {
  console.log('\n# Reconciler (G5): 1,000 idle keys, embedded store, data plane stand-in');
  await benchReconcileIdle();
}
if (!only || only === 'data-plane') {
  console.log('\n# Data plane (F2): Docker engine, registry, gateway');
  await benchDataPlane();
}
if (!only || only === 'builds') {
  console.log('\n# Builds (F3): dockerfile preset, real engine and registry');
  await benchBuilds();
}
if (!only || only === 'bootstrap') {
  console.log('\n# Base images: rondo images bootstrap from a cold cache, old sequence and new, same run');
  await benchBootstrap();
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
if (!only || only === 'metrics') {
  console.log('\n# Metrics (G3): one component over 24 h at 1-minute steps from the real Prometheus');
  await benchMetrics();
}
if (!only || only === 'console') {
  console.log('\n# Web console (G4): first-visit bytes and the component page in Chromium');
  await benchConsole();
}
if (!only || only === 'faults') {
  // Kills and restarts parts; the engine it restarts is one it started itself.
  console.log('\n# Parts that die (G2): kill -9 under load through the public gateway');
  await benchFaults();
}
if (!only || only === 'alert-pass') {
  console.log("\n# Alerts (G3): one pass of Rondo's evaluator over a noisy component");
  await benchAlertPass();
}
if (!only || only === 'observability') {
  console.log(
    '\n# Observability (G3): runtime log ingestion from 10 replicas, API latency idle and during it',
  );
  await benchObservability();
}
if (!only || only === 'gateway') {
  console.log(
    '\n# Gateway (G7): direct, Caddy, HAProxy and nginx with the same routes (1, 100, 1,000 endpoints)',
  );
  await benchGateway();
  console.log('\n## Each claimed feature, run on the Debian versions');
  await benchGatewayFeatures();
}
if (!only || only === 'gateway' || only === 'gateway-policies') {
  console.log('\n# Gateway (G7): what JWT validation and rate limits add on HAProxy, 100 endpoints');
  await benchGatewayPolicies();
}
// The Kubernetes benchmarks need the test cluster (scripts/kube-test-cluster.sh): by name only.
if (only === 'kube-reconcile-idle') {
  console.log('\n# Kubernetes (G6): reconcile of 1,000 idle components on one cluster, real API server');
  await benchKubeReconcileIdle();
}
if (only === 'kube-promotion') {
  console.log('\n# Kubernetes (G6): promotion into a cluster environment → first 200, against kubectl apply');
  await benchKubePromotion();
}
if (only === 'gateway-instructions') {
  console.log(
    '\n# Gateway (G7): instructions per request under callgrind, bare peers and Rondo, feature by feature',
  );
  await benchGatewayInstructions();
}
if (only === 'gateway-features') {
  console.log('\n# Gateway (G7): each claimed feature, run on the Debian versions');
  await benchGatewayFeatures();
}
