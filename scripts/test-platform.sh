#!/usr/bin/env bash
# The platform tests (test/deploy): real containers and a real cluster, in two streams at once.
# Each stream runs one file at a time, so a file's containers under load do not share the machine
# with another file of its own stream. The second stream holds the Kubernetes files (the test
# cluster's own containerd) and the two longest Docker files that put no load on a rollout
# (language presets: builds; the console's lifecycle: a browser), which evens the streams out
# (~20 minutes each instead of ~40 one after the other). Images the tests built are removed
# once, after both streams: a stream's teardown would pull them from under the other.
set -uo pipefail
cd "$(dirname "$0")/.."
keep=${RONDO_TEST_KEEP_IMAGES:-}
export RONDO_TEST_KEEP_IMAGES=1
second=(test/deploy/kube- test/deploy/language-presets.test.ts test/deploy/console-lifecycle.test.ts)
npx vitest run test/deploy --exclude 'test/deploy/kube-*' --exclude test/deploy/language-presets.test.ts \
  --exclude test/deploy/console-lifecycle.test.ts --no-file-parallelism &
first_stream=$!
(npx vitest run "${second[@]}" --no-file-parallelism 2>&1 | sed -u 's/^/[2] /') &
second_stream=$!
wait "$first_stream"; first_rc=$?
wait "$second_stream"; second_rc=$?
[[ $keep == 1 ]] || node --import tsx test/remove-test-images.ts
echo "test: platform streams exit $first_rc and $second_rc"
(( first_rc == 0 && second_rc == 0 ))
