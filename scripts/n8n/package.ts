import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { PACKAGE_NAME, REPO_ROOT, npmCliPath } from './config';
import type { Runtime } from './install';
import { runOrThrow } from './processes';

/** `npm run build`, then `npm pack` into `destination`; returns the tarball's path. */
export async function buildAndPack(destination: string): Promise<string> {
	mkdirSync(destination, { recursive: true });
	await runOrThrow(process.execPath, [npmCliPath(), 'run', 'build'], { cwd: REPO_ROOT });
	const packed = await runOrThrow(
		process.execPath,
		[npmCliPath(), 'pack', '--json', '--pack-destination', destination],
		{ cwd: REPO_ROOT },
	);
	const [info] = JSON.parse(packed.output.slice(packed.output.indexOf('['))) as {
		filename: string;
	}[];
	return join(destination, info.filename);
}

/**
 * Installs the tarball exactly as n8n's CommunityPackagesService.downloadPackage does (n8n 2.41):
 * unpack into `<user folder>/.n8n/nodes/node_modules/<name>`, drop dev, peer and optional dependencies
 * from its package.json, `npm install` there with n8n's flags, then record it in `nodes/package.json`.
 * Only the `npm pack` step differs: ours is local instead of from the registry.
 */
export async function installCommunityPackage(
	userFolder: string,
	tarball: string,
	runtime: Runtime,
): Promise<string> {
	const nodesDir = join(userFolder, '.n8n', 'nodes');
	const packageDir = join(nodesDir, 'node_modules', PACKAGE_NAME);
	mkdirSync(packageDir, { recursive: true });
	await runOrThrow('tar', ['-xzf', tarball, '-C', packageDir, '--strip-components=1']);

	const packageJsonPath = join(packageDir, 'package.json');
	const packageJson = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as Record<
		string,
		unknown
	> & { version: string };
	for (const field of ['devDependencies', 'peerDependencies', 'optionalDependencies'])
		delete packageJson[field];
	writeFileSync(packageJsonPath, JSON.stringify(packageJson, null, 2));
	await runOrThrow(
		runtime.node,
		[
			npmCliPath(),
			'install',
			'--audit=false',
			'--fund=false',
			'--bin-links=false',
			'--install-strategy=shallow',
			'--ignore-scripts=true',
			'--package-lock=false',
		],
		{ cwd: packageDir, env: runtime.env },
	);

	writeFileSync(
		join(nodesDir, 'package.json'),
		JSON.stringify(
			{
				name: 'installed-nodes',
				private: true,
				dependencies: { [PACKAGE_NAME]: packageJson.version },
			},
			null,
			2,
		),
	);
	return packageDir;
}
