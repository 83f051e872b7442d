import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
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
 * Installs the tarball with the README's by-hand commands, as written: its ```bash block under
 * "**By hand**" runs in bash with HOME set to the user folder (so `~/.n8n/nodes` is the folder n8n
 * reads with N8N_USER_FOLDER set) and Node 24 first on PATH, the package name replaced by the
 * tarball's path. Fails if the nodes folder then holds anything but this package.
 */
export async function installCommunityPackage(
	userFolder: string,
	tarball: string,
	runtime: Runtime,
): Promise<string> {
	const commands = readmeInstallCommands().replaceAll(PACKAGE_NAME, tarball);
	mkdirSync(userFolder, { recursive: true });
	await runOrThrow('bash', ['-euo', 'pipefail', '-c', commands], {
		cwd: userFolder,
		env: { ...runtime.env, HOME: userFolder },
	});
	const modulesDir = join(userFolder, '.n8n', 'nodes', 'node_modules');
	const installed = readdirSync(modulesDir).filter((name) => !name.startsWith('.'));
	if (installed.join() !== PACKAGE_NAME)
		throw new Error(
			`the README's install command put ${installed.join(', ')} in ${modulesDir}; expected ${PACKAGE_NAME} alone`,
		);
	return join(modulesDir, PACKAGE_NAME);
}

/** The README's by-hand install commands: the first ```bash block after the "**By hand**" line. */
export function readmeInstallCommands(): string {
	const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
	const block = /^\*\*By hand\*\*[^\n]*\n+```bash\n([\s\S]*?)\n```/m.exec(readme);
	if (!block?.[1].includes(`npm install`))
		throw new Error('README.md has no ```bash block with `npm install` after its **By hand** line');
	return block[1];
}
