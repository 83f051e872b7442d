/**
 * `npm run test:n8n`: this package inside a real n8n, installed as users get it.
 *
 * 1. Node 24 and n8n 2.41 from the npm registry into .cache/n8n (once; sqlite3 built with node-gyp).
 * 2. `npm run build` + `npm pack`, the tarball installed into <user folder>/.n8n/nodes as n8n does it.
 * 3. The Kling simulator on 127.0.0.1; a klingApi credential and the workflows imported with n8n's CLI.
 * 4. cliChecks: `n8n execute --id` per workflow. 5. serverChecks: `n8n start`, signed and forged callbacks.
 *
 * Everything listens on 127.0.0.1 and is stopped by PID at the end. KEEP_N8N_WORKDIR=1 keeps the work folder.
 *
 * To add a scenario (e.g. queue mode): add workflows in workflows.ts, then a Check list here that calls
 * startServer(environment, { EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_HOST: '127.0.0.1', ... }) and
 * startWorker(environment, 'worker-1', {...}); close() stops them all, newest first.
 */
import { cliChecks, serverChecks, type Check } from './checks';
import { prepare, removeWorkDir, startServer, type Environment } from './environment';
import { seconds } from './processes';

const log = (line: string) => console.log(`[test:n8n] ${line}`);

async function main(): Promise<number> {
	const started = Date.now();
	let environment: Environment | undefined;
	const stop = async () => {
		await environment?.close();
	};
	process.once('SIGINT', () => void stop().then(() => process.exit(130)));
	process.once('SIGTERM', () => void stop().then(() => process.exit(143)));

	let passed = 0;
	let failed = 0;
	try {
		environment = await prepare(log);
		const runChecks = async (checks: Check[]) => {
			for (const check of checks) {
				const checkStarted = Date.now();
				try {
					const result = await check.run(environment as Environment);
					passed++;
					console.log(`  ✓ ${check.name}\n      ${result}`);
				} catch (error) {
					failed++;
					console.log(`  ✗ ${check.name}\n      ${(error as Error).message.split('\n').join('\n      ')}`);
				}
				environment!.timings[`check: ${check.name}`] = Date.now() - checkStarted;
			}
		};

		log('workflows run with n8n execute --id:');
		let phase = Date.now();
		await runChecks(cliChecks);
		environment.timings['n8n execute checks'] = Date.now() - phase;

		log('n8n start on 127.0.0.1:');
		phase = Date.now();
		const server = await startServer(environment);
		log(`n8n ${server.url} ready (PID ${server.process.pid}); owner logged in`);
		await runChecks(serverChecks);
		environment.timings['n8n start + webhook checks'] = Date.now() - phase;
	} catch (error) {
		failed++;
		console.log(`  ✗ setup: ${(error as Error).message}`);
	} finally {
		await stop();
	}

	if (environment) {
		const keep = failed > 0 || process.env.KEEP_N8N_WORKDIR === '1';
		if (keep) log(`logs and n8n user folder kept in ${environment.workDir}`);
		else removeWorkDir(environment);
	}
	log(`total ${seconds(Date.now() - started)}`);
	console.log(`${passed} passed, ${failed} failed`);
	return failed === 0 ? 0 : 1;
}

main().then(
	(code) => process.exit(code),
	(error: Error) => {
		console.error(error);
		process.exit(1);
	},
);
