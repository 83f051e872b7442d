import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import {
	makeTestImage,
	SIMULATOR_DEFAULT_KEYS,
	startSimulator,
	type Simulator,
} from '../../test/simulator';
import { ensureRuntime, type Runtime } from './install';
import { N8n, type N8nServer } from './n8n';
import { buildAndPack, installCommunityPackage } from './package';
import { Background, freePort, seconds, waitFor } from './processes';
import {
	QUEUE_SLOT_LIMIT,
	simulatedDurationMs,
	simulatorCredential,
	testWorkflows,
	type TestWorkflows,
} from './workflows';

export const INPUT_IMAGE = { width: 800, height: 600 };

/** Everything a check may use: the n8n install and user folder, the simulator, the input image and the workflows. */
export interface Environment {
	runtime: Runtime;
	n8n: N8n;
	simulator: Simulator;
	workDir: string;
	/** The folder n8n may read and write (N8N_RESTRICT_FILE_ACCESS_TO); the input image is kling/input.png in it. */
	filesDir: string;
	inputImagePath: string;
	/** The input image served on 127.0.0.1 (the simulator fetches URL images only from loopback). */
	imageUrl: string;
	workflows: TestWorkflows;
	/** The port `n8n start` will use: chosen early, because the callback URL in a workflow names it. */
	n8nPort: number;
	/** Set once startServer() ran. */
	server?: N8nServer;
	/** Set once startQueueMode() ran: the workers, by name. */
	workers?: Background[];
	/** Set once startQueueMode() ran: starts one more worker (as after a crash) and waits until it is ready. */
	startWorker?: (name: string) => Promise<Background>;
	timings: Record<string, number>;
	/** Stops what was started, newest first. Idempotent. */
	close(): Promise<void>;
}

/**
 * From nothing to an n8n that knows our package: Node 24 and n8n (cached), a build and `npm pack` of this
 * repository installed as a community package, the simulator, a credential and every workflow imported.
 */
export async function prepare(
	log: (line: string) => void,
	options: { forScreenshots?: boolean } = {},
): Promise<Environment> {
	const timings: Record<string, number> = {};
	const time = async <T>(name: string, step: () => Promise<T>): Promise<T> => {
		const started = Date.now();
		try {
			return await step();
		} finally {
			timings[name] = Date.now() - started;
			log(`${name}: ${seconds(timings[name])}`);
		}
	};
	const cleanups: (() => Promise<void> | void)[] = [];
	const close = async () => {
		while (cleanups.length) await cleanups.pop()?.();
	};

	try {
		const runtime = await time('n8n + Node 24 install (cached after the first run)', () =>
			ensureRuntime(log),
		);
		const workDir = mkdtempSync(join(tmpdir(), 'kling-n8n-e2e-'));
		const userFolder = join(workDir, 'user');
		const filesDir = join(workDir, 'files');
		mkdirSync(join(filesDir, 'kling'), { recursive: true });
		log(`work folder: ${workDir} (n8n user folder, logs, files)`);

		await time('build + npm pack + install as community package', async () => {
			const tarball = await buildAndPack(workDir);
			await installCommunityPackage(userFolder, tarball, runtime);
			// The same command with the Node this script runs on (20 on this project's machines): n8n
			// 2.41 needs Node 24 to load it, but the install itself must bring in nothing else.
			await installCommunityPackage(join(workDir, 'install-with-system-node'), tarball, {
				...runtime,
				env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
			});
			log(
				`the README's install command installs only the package on Node 24 and ${process.version}`,
			);
		});

		const simulator = await startSimulator({
			port: 0,
			webhookSecret: SIMULATOR_DEFAULT_KEYS.webhookSecret,
			taskDurationMs: (task) => simulatedDurationMs(task.createBody.prompt),
			concurrencyLimit: QUEUE_SLOT_LIMIT,
		});
		cleanups.push(() => simulator.close());
		const inputImagePath = join(filesDir, 'kling', 'input.png');
		writeFileSync(inputImagePath, await makeTestImage({ ...INPUT_IMAGE, format: 'png', noise: 8 }));
		const imageServer = await serveFile(inputImagePath);
		cleanups.push(() => new Promise<void>((done) => imageServer.server.close(() => done())));

		const n8n = new N8n(runtime, userFolder, join(workDir, 'logs'), {
			N8N_RESTRICT_FILE_ACCESS_TO: filesDir,
		});
		const n8nPort = await freePort();
		// Screenshots show the examples as users import them: Slack on, nothing published.
		const forTest = !options.forScreenshots;
		const workflows = testWorkflows({
			filesDir,
			imageUrl: imageServer.url,
			n8nUrl: `http://127.0.0.1:${n8nPort}`,
			disableSlack: forTest,
		});
		await time(
			`import credential + workflows${forTest ? ', publish the trigger workflow' : ''}`,
			async () => {
				await n8n.importCredentials([simulatorCredential(simulator.url)]);
				await n8n.importWorkflows(Object.values(workflows));
				if (forTest) {
					await n8n.publish(workflows.triggerToSlack.id);
					await n8n.publish(workflows.callbackInQueueMode.id);
					await n8n.publish(workflows.callbackThenApproval.id);
					await n8n.publish(workflows.crashRecovery.id);
					await n8n.publish(workflows.crashInQueueMode.id);
					await n8n.publish(workflows.listByPrefix.id);
				}
			},
		);

		const environment: Environment = {
			runtime,
			n8n,
			simulator,
			workDir,
			filesDir,
			inputImagePath,
			imageUrl: imageServer.url,
			workflows,
			n8nPort,
			timings,
			close,
		};
		return environment;
	} catch (error) {
		await close();
		throw error;
	}
}

/** Starts `n8n start` for the environment (on its chosen port), sets up the owner and logs in. */
export async function startServer(
	environment: Environment,
	env: Record<string, string> = {},
): Promise<N8nServer> {
	const started = Date.now();
	const server = await environment.n8n.start({ port: environment.n8nPort, env });
	environment.server = server;
	stopOnClose(environment, async () => await server.stop());
	await server.rest.setUpOwnerAndLogIn();
	environment.timings['n8n start until ready + owner login'] = Date.now() - started;
	return server;
}

/** Runs `stop` first when the environment closes (everything is stopped newest first). */
function stopOnClose(environment: Environment, stop: () => Promise<void>): void {
	const close = environment.close;
	environment.close = async () => {
		await stop();
		await close();
	};
}

/**
 * n8n in queue mode on 127.0.0.1: a Redis server (Debian's redis-server, no persistence), `n8n start` as the
 * main process (it receives the webhooks) and `workerCount` `n8n worker`s, all on the one SQLite database
 * (n8n warns that this is not supported for production; it works for one test). The main's URL is every
 * process's N8N_WEBHOOK_URL, so the resume URL a worker hands to Kling points at the main.
 */
export async function startQueueMode(
	environment: Environment,
	workerCount: number,
): Promise<{ server: N8nServer; workers: Background[] }> {
	const redisServer = findRedisServer();
	const redisPort = await freePort();
	const redis = Background.start(
		'redis-server',
		redisServer,
		['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
		{
			logFile: join(environment.workDir, 'logs', 'redis.log'),
		},
	);
	stopOnClose(environment, async () => await redis.stop());
	await waitFor(
		'redis-server to log "Ready to accept connections"',
		async () =>
			readFileSync(redis.logFile, 'utf8').includes('Ready to accept connections')
				? true
				: undefined,
		15_000,
	);

	const queueEnv = {
		EXECUTIONS_MODE: 'queue',
		QUEUE_BULL_REDIS_HOST: '127.0.0.1',
		QUEUE_BULL_REDIS_PORT: String(redisPort),
		N8N_WEBHOOK_URL: `http://127.0.0.1:${environment.n8nPort}/`,
		// Manual runs on workers too, as n8n will do by default (and as its deprecation notice asks).
		OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true',
	};
	const server = await startServer(environment, queueEnv);
	const workers: Background[] = [];
	const startWorker = async (name: string) => {
		const worker = await environment.n8n.startWorker(name, queueEnv);
		stopOnClose(environment, async () => await worker.stop());
		workers.push(worker);
		await waitFor(
			`${worker.name} to be ready (log: ${worker.logFile})`,
			async () => {
				if (!worker.running) throw new Error(`${worker.name} exited; see ${worker.logFile}`);
				return /n8n worker is now ready/i.test(readFileSync(worker.logFile, 'utf8'))
					? true
					: undefined;
			},
			120_000,
			500,
		);
		return worker;
	};
	await Promise.all(
		Array.from(
			{ length: workerCount },
			async (_, index) => await startWorker(`worker-${index + 1}`),
		),
	);
	environment.workers = workers;
	environment.startWorker = startWorker;
	return { server, workers };
}

/** Debian's redis-server (apt-get install redis-server), or REDIS_SERVER. */
function findRedisServer(): string {
	const candidates = [
		process.env.REDIS_SERVER,
		'/usr/bin/redis-server',
		'/usr/local/bin/redis-server',
	].filter((path): path is string => Boolean(path));
	const found = candidates.find((path) => existsSync(path));
	if (!found)
		throw new Error(
			'queue mode needs redis-server: apt-get install redis-server (or set REDIS_SERVER)',
		);
	return found;
}

/** Removes the work folder: after a passing run only, so a failure's logs stay for reading. */
export function removeWorkDir(environment: Environment): void {
	rmSync(environment.workDir, { recursive: true, force: true });
}

/** Serves one file on 127.0.0.1: the simulator, like Kling, downloads URL images, and fetches only from loopback. */
async function serveFile(path: string): Promise<{ server: Server; url: string }> {
	const body = readFileSync(path);
	const server = createServer((_request, response) => {
		response.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
		response.end(body);
	});
	await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
	const address = server.address();
	const port = typeof address === 'object' && address ? address.port : 0;
	return { server, url: `http://127.0.0.1:${port}/input.png` };
}
