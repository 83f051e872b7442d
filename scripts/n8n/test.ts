/**
 * `npm run test:n8n`: this package inside a real n8n, installed as users get it.
 *
 * 1. Node 24 and n8n 2.41 from the npm registry into .cache/n8n (once; sqlite3 built with node-gyp).
 * 2. `npm run build` + `npm pack`, the tarball installed into <user folder>/.n8n/nodes as n8n does it.
 * 3. The Kling simulator on 127.0.0.1; a klingApi credential and the workflows imported with n8n's CLI.
 * 4. cliChecks: `n8n execute --id` per workflow; agentChecks: an AI Agent calls Kling Expand as a tool.
 * 5. serverChecks: `n8n start`, signed and forged callbacks.
 * 6. queueChecks: queue mode (Redis from Debian's redis-server, `n8n start` + two `n8n worker`s), callback wait.
 *
 * Everything listens on 127.0.0.1 and is stopped by PID at the end. KEEP_N8N_WORKDIR=1 keeps the work folder;
 * KLING_N8N_PHASES=cli,agent,server,queue (any subset) runs only those phases.
 */
import { agentChecks } from './agentChecks';
import { cliChecks, queueChecks, serverChecks, type Check } from './checks';
import { triggerChecks } from './triggerChecks';
import {
	prepare,
	removeWorkDir,
	startQueueMode,
	startServer,
	type Environment,
} from './environment';
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
					console.log(
						`  ✗ ${check.name}\n      ${(error as Error).message.split('\n').join('\n      ')}`,
					);
				}
				environment!.timings[`check: ${check.name}`] = Date.now() - checkStarted;
			}
		};

		const phases = new Set((process.env.KLING_N8N_PHASES || 'cli,agent,server,queue').split(','));
		let phase = Date.now();
		if (phases.has('cli')) {
			log('workflows run with n8n execute --id:');
			await runChecks(cliChecks);
			environment.timings['n8n execute checks'] = Date.now() - phase;
		}

		if (phases.has('agent')) {
			log('an AI Agent with Kling Expand as its tool, run with n8n execute --id:');
			phase = Date.now();
			await runChecks(agentChecks);
			environment.timings['AI Agent check'] = Date.now() - phase;
		}

		if (phases.has('server')) {
			log('n8n start on 127.0.0.1:');
			phase = Date.now();
			const server = await startServer(environment);
			log(`n8n ${server.url} ready (PID ${server.process.pid}); owner logged in`);
			await runChecks([...serverChecks, ...triggerChecks]);
			// triggerChecks restart n8n: stop whichever server runs now.
			await (environment.server ?? server).stop();
			environment.timings['n8n start + webhook checks'] = Date.now() - phase;
		}

		if (phases.has('queue')) {
			log('queue mode on 127.0.0.1: redis-server, n8n start (main), two n8n workers:');
			phase = Date.now();
			const { server, workers } = await startQueueMode(environment, 2);
			log(
				`main ${server.url} (PID ${server.process.pid}), ${workers.map((worker) => `${worker.name} (PID ${worker.pid})`).join(', ')} ready`,
			);
			await runChecks(queueChecks);
			environment.timings['queue mode start + checks'] = Date.now() - phase;
		}
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
