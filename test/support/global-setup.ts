import { execFileSync } from 'node:child_process';

/**
 * Makes sure the Engine answers and the test image exists before any test
 * runs. `npm test` has already run scripts/test-env.sh (packages, dockerd);
 * this is a cheap re-check so `npx vitest` alone also works once that ran.
 */
export default function setup(): void {
  execFileSync('bash', ['scripts/engine-up.sh'], { stdio: 'inherit' });
  execFileSync('bash', ['scripts/build-image.sh', TEST_IMAGE], { stdio: 'inherit' });
}

/** The local web-app image every test uses (built from busybox-static, no registry). */
export const TEST_IMAGE = 'hdactl-demo/web:1';
