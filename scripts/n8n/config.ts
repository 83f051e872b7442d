import { join, resolve } from 'node:path';

/**
 * Versions under test. n8n 2.41.3 is the registry's `latest`, but it depends on @n8n/agents@0.26.2,
 * which the registry does not serve, so it cannot be installed; 2.41.1 is the newest 2.41 that can.
 */
export const N8N_VERSION = '2.41.1';
/** n8n 2.41 needs Node ≥ 24; the npm registry ships Node's Linux build as this package (node, headers; no npm). */
export const NODE_VERSION = '24.21.0';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const PACKAGE_NAME = 'n8n-nodes-kling-expand';
export const EXAMPLES_DIR = join(REPO_ROOT, 'examples');

/**
 * Where Node 24 and n8n are installed once and reused. Ignored by git. KLING_N8N_CACHE moves it, e.g. to
 * $HOME/.cache so that fresh clones (CI) on the same machine share one install.
 */
export const CACHE_DIR = resolve(process.env.KLING_N8N_CACHE || join(REPO_ROOT, '.cache', 'n8n'));

/** The npm CLI that runs this script (npm sets npm_execpath); we run it under Node 24 to install n8n. */
export function npmCliPath(): string {
	const fromNpm = process.env.npm_execpath;
	if (fromNpm && /npm-cli\.js$/.test(fromNpm)) return fromNpm;
	return require.resolve('npm/bin/npm-cli.js', {
		paths: ['/usr/lib/node_modules', '/usr/local/lib/node_modules'],
	});
}
