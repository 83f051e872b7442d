/**
 * `npm run bench:n8n`: the floor table of `npm run bench` (test/bench/floor.ts) in real n8n 2.41.1:
 * `n8n start` in filesystem binary mode, this package installed as a community package, each
 * workload run at once by the package (Submit and Wait, Poll) and by two loops built from n8n's own
 * nodes (Loop Over Items → HTTP Request create → Wait 1 s / 5 s → query → If all ended → download),
 * in the same n8n process, each on its own simulator. Then the memory an 8 MB create in flight costs
 * n8n, and callback mode at N = 50, C = 5: how many of Kling's callbacks n8n answers 409.
 *
 * Figures, never assertions (the machine is shared). BENCH_N8N_SIZES=10,50 (default) picks N;
 * KEEP_N8N_WORKDIR=1 keeps n8n's folder and logs. KLING_N8N_CACHE as for test:n8n.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
	type CallbackConflicts,
	evaluateFloorTargets,
	FLOOR_NOTES,
	FLOOR_RUNNERS,
	FLOOR_TASK_MS,
	floorImage,
	floorRow,
	floorWorkloads,
	formatFloorTable,
	type FloorRow,
	type FloorRunner,
	type FloorWorkload,
	type MemoryPerCreate,
} from '../../test/bench/floor';
import { RemoteSimulator } from '../../test/bench/remoteSimulator';
import { formatTargets } from '../../test/bench/report';
import { ACCOUNT_LIMIT } from '../../test/bench/scale';
import { largeImage } from '../../test/bench/workloads';
import {
	BENCH_PATHS,
	benchCredential,
	benchWorkflows,
	type BenchRequest,
	type BenchWorkflow,
} from './benchWorkflows';
import { ensureRuntime } from './install';
import { N8n, type N8nServer } from './n8n';
import { buildAndPack, installCommunityPackage } from './package';
import { seconds, sleep, waitFor } from './processes';
import type { ExecutionSummary } from './rest';
import { simulatorCredential } from './workflows';

const log = (line: string) => console.log(`[bench:n8n] ${line}`);

const SIZES = (process.env.BENCH_N8N_SIZES ?? '10,50').split(',').map(Number);
const WORKFLOW_OF: Record<FloorRunner, BenchWorkflow> = {
	node: 'node',
	'loop 1 s': 'loop1',
	'loop 5 s': 'loop5',
};
const CALLBACK_ITEMS = 50;
const CALLBACK_CONCURRENCY = 5;

interface Bench {
	server: N8nServer;
	filesDir: string;
	/** One simulator per runner, so the three runs of a workload do not share an account. */
	lanes: Record<FloorRunner, RemoteSimulator>;
}

/** n8n's own record of one execution: status and wall time (stopped − started). */
interface Finished {
	id: string;
	status: ExecutionSummary['status'];
	startedAtMs: number;
	wallMs: number;
}

/** Posts the workflow's webhook and waits until n8n records the execution it started as ended. */
async function runWorkflow(
	bench: Bench,
	workflow: BenchWorkflow,
	request: BenchRequest,
	onStarted?: (executionId: string) => void,
): Promise<Finished> {
	const { rest, url } = bench.server;
	const workflowId = benchWorkflowIds[workflow];
	const known = new Set((await rest.executions(workflowId)).map((execution) => execution.id));
	const answer = await fetch(`${url}/webhook/${BENCH_PATHS[workflow]}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(request),
	});
	if (answer.status !== 200)
		throw new Error(`the ${workflow} webhook answered ${answer.status}: ${await answer.text()}`);
	const started = await waitFor(
		`the ${workflow} execution to start`,
		async () => (await rest.executions(workflowId)).find((execution) => !known.has(execution.id)),
		60_000,
		200,
	);
	onStarted?.(started.id);
	const ended = await waitFor(
		`execution ${started.id} to end`,
		async () => {
			const execution = (await rest.executions(workflowId)).find(
				(candidate) => candidate.id === started.id,
			);
			return execution && !['new', 'running', 'waiting'].includes(execution.status)
				? execution
				: undefined;
		},
		15 * 60_000,
		250,
	);
	// The clock starts when the node after Read Images starts: reading the files from disk is the
	// same for every runner and is n8n's, not the runner's.
	const runData = (await rest.execution(ended.id)).data.resultData.runData as Record<
		string,
		Array<{ startTime?: number }>
	>;
	const first = FIRST_NODE[workflow];
	const startedAtMs =
		(first && runData[first]?.[0]?.startTime) || Date.parse(ended.startedAt ?? '');
	return {
		id: ended.id,
		status: ended.status,
		startedAtMs,
		wallMs: Date.parse(ended.stoppedAt ?? '') - startedAtMs,
	};
}

/** The node whose start starts the clock; callback mode's resumed run replaces its node's first run, so it counts from the execution's start. */
const FIRST_NODE: Partial<Record<BenchWorkflow, string>> = {
	node: 'Kling Expand',
	loop1: 'Loop Over Items',
	loop5: 'Loop Over Items',
};

const benchWorkflowIds: Record<BenchWorkflow, string> = {
	node: 'benchNode',
	callback: 'benchCallback',
	loop1: 'benchLoop1',
	loop5: 'benchLoop5',
};

/** N copies of `image` in their own folder; returns the glob that reads them. */
function inputFiles(filesDir: string, name: string, image: Buffer, count: number): string {
	const folder = join(filesDir, name);
	mkdirSync(folder, { recursive: true });
	for (let index = 0; index < count; index++)
		writeFileSync(join(folder, `photo-${String(index).padStart(3, '0')}.png`), image);
	return join(folder, '*.png');
}

async function measureWorkload(
	bench: Bench,
	workload: FloorWorkload,
	files: string,
): Promise<FloorRow[]> {
	return await Promise.all(
		FLOOR_RUNNERS.map(async (runner) => {
			const simulator = bench.lanes[runner];
			await simulator.reset(workload.durationsMs, FLOOR_TASK_MS);
			let finished: Finished | undefined;
			let error: string | undefined;
			try {
				finished = await runWorkflow(bench, WORKFLOW_OF[runner], {
					files,
					concurrency: workload.concurrency,
					download: true,
					baseUrl: simulator.url,
				});
				if (finished.status !== 'success') error = `execution ${finished.id} ${finished.status}`;
			} catch (failure) {
				error = (failure as Error).message;
			}
			const snapshot = await simulator.snapshot();
			// Every task ended and its image was fetched: what the run's output holds.
			const downloaded = new Set(
				snapshot.requests
					.filter((request) => request.path.startsWith('/results/'))
					.map((request) => request.path.split('/')[2]),
			);
			const succeeded = snapshot.tasks.filter(
				(task) =>
					task.task_status === 'succeed' && downloaded.has(encodeURIComponent(task.task_id)),
			).length;
			const row = floorRow(
				workload,
				runner,
				finished?.startedAtMs ?? NaN,
				finished?.wallMs ?? NaN,
				snapshot,
				{
					succeeded,
					error,
				},
			);
			// Where n8n's own time goes: its start until the first request, the last request until its end.
			const from = finished?.startedAtMs ?? NaN;
			const first = snapshot.requests[0]?.at - from;
			const last =
				from + (finished?.wallMs ?? NaN) - snapshot.requests[snapshot.requests.length - 1]?.at;
			log(
				`${row.workload} · ${row.runner}: first request +${seconds(first)}, last request −${seconds(last)}; ${seconds(row.wallMs)} (×${(row.wallMs / row.floorMs).toFixed(2)} floor), ${row.allPerTask.toFixed(2)} req/task, lag p50 ${row.lag.p50Ms} ms, ${row.succeeded}/${row.items} ok${error ? `, failed: ${error}` : ''}`,
			);
			return row;
		}),
	);
}

/** n8n's resident memory, from /proc: the process the package runs in. */
function rssOfMb(pid: number): number {
	const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return match ? Number(match[1]) / 1024 : NaN;
}

/** RSS rise (peak − before) of n8n over one Submit and Wait run without downloads. */
async function riseOf(bench: Bench, files: string, items: number, concurrency: number) {
	const simulator = bench.lanes.node;
	await simulator.reset(new Array<number>(items).fill(FLOOR_TASK_MS), FLOOR_TASK_MS);
	const pid = bench.server.process.pid;
	// n8n settles after the previous run (its own timers, garbage collection) before the baseline.
	await sleep(3000);
	const before = rssOfMb(pid);
	let peak = before;
	let sampling = true;
	const sampler = (async () => {
		while (sampling) {
			peak = Math.max(peak, rssOfMb(pid));
			await sleep(20);
		}
	})();
	try {
		const finished = await runWorkflow(bench, 'node', { files, concurrency, download: false });
		if (finished.status !== 'success')
			throw new Error(`memory run: execution ${finished.id} ${finished.status}`);
	} finally {
		sampling = false;
		await sampler;
	}
	return peak - before;
}

/**
 * (rise with ten 8 MB creates in flight − rise with one) / 9, in a fresh n8n (right after the
 * warm-up), first round. n8n keeps the memory a run freed and the next runs reuse it without a rise
 * (the rounds after the first measured 3 MB for ten creates against 14 MB for one), so later rounds
 * are printed but not used.
 */
async function memoryPerCreate(bench: Bench): Promise<MemoryPerCreate> {
	const large = await largeImage();
	const ten = inputFiles(bench.filesDir, 'large-10', large, 10);
	const one = inputFiles(bench.filesDir, 'large-1', large, 1);
	const tens: number[] = [];
	const ones: number[] = [];
	for (let round = 0; round < 3; round++) {
		tens.push(await riseOf(bench, ten, 10, 10));
		ones.push(await riseOf(bench, one, 1, 1));
		log(
			`memory round ${round + 1}: rise ${tens[round].toFixed(0)} MB (10), ${ones[round].toFixed(0)} MB (1)`,
		);
	}
	const [riseTenMb, riseOneMb] = [tens[0], ones[0]];
	return { riseTenMb, riseOneMb, perCreateMb: (riseTenMb - riseOneMb) / 9, rounds: 1 };
}

/** Callback mode, N = 50, C = 5: every callback the simulator delivered to n8n and n8n's answer. */
async function callbackConflicts(bench: Bench, files: string): Promise<CallbackConflicts> {
	const simulator = bench.lanes.node;
	await simulator.reset(new Array<number>(CALLBACK_ITEMS).fill(FLOOR_TASK_MS), FLOOR_TASK_MS);
	let waitingAt = NaN;
	const startedAt = Date.now();
	let error: string | undefined;
	let finished: Finished | undefined;
	try {
		finished = await runWorkflow(
			bench,
			'callback',
			{ files, concurrency: CALLBACK_CONCURRENCY, download: true },
			(executionId) =>
				void waitFor(
					`execution ${executionId} to wait`,
					async () => {
						const execution = (await bench.server.rest.executions(benchWorkflowIds.callback)).find(
							(candidate) => candidate.id === executionId,
						);
						if (execution && execution.status !== 'running' && execution.status !== 'new')
							return (waitingAt = Date.now());
						return undefined;
					},
					15 * 60_000,
					100,
				).catch(() => undefined),
		);
		if (finished.status !== 'success') error = `execution ${finished.id} ${finished.status}`;
	} catch (failure) {
		error = (failure as Error).message;
	}
	// Late callbacks (after the resume) are answered too: n8n finds the execution finished.
	await sleep(1000);
	const snapshot = await simulator.snapshot();
	const downloaded = new Set(
		snapshot.requests
			.filter((request) => request.path.startsWith('/results/'))
			.map((request) => request.path.split('/')[2]),
	);
	const conflicts = snapshot.deliveries.filter((delivery) => delivery.status === 409);
	// When each 409 came, against the moment n8n was first seen to hold the execution as waiting.
	log(
		`callbacks answered 409 (task status, ms from the sleep seen by polling every 100 ms): ${conflicts
			.map((delivery) => `${delivery.taskStatus} ${Math.round(delivery.at - waitingAt)}`)
			.join(', ')}`,
	);
	return {
		items: CALLBACK_ITEMS,
		concurrency: CALLBACK_CONCURRENCY,
		callbacks: snapshot.deliveries.length,
		conflicts: conflicts.length,
		conflictsByStatus: conflicts.reduce<Record<string, number>>(
			(counts, delivery) => ({
				...counts,
				[delivery.taskStatus]: (counts[delivery.taskStatus] ?? 0) + 1,
			}),
			{},
		),
		succeeded: snapshot.tasks.filter(
			(task) => task.task_status === 'succeed' && downloaded.has(encodeURIComponent(task.task_id)),
		).length,
		// Until n8n saw the execution sleep (polled every 100 ms): the time a worker is held.
		heldMs: waitingAt - startedAt,
		wallMs: finished?.wallMs ?? NaN,
		error,
	};
}

async function main(): Promise<number> {
	const started = Date.now();
	const cleanups: (() => Promise<void> | void)[] = [];
	const close = async () => {
		while (cleanups.length) await cleanups.pop()?.();
	};
	process.once('SIGINT', () => void close().then(() => process.exit(130)));
	process.once('SIGTERM', () => void close().then(() => process.exit(143)));
	let workDir = '';
	let failed = false;
	try {
		const runtime = await ensureRuntime(log);
		workDir = mkdtempSync(join(tmpdir(), 'kling-n8n-bench-'));
		const userFolder = join(workDir, 'user');
		const filesDir = join(workDir, 'files');
		mkdirSync(filesDir, { recursive: true });
		log(`work folder: ${workDir}`);
		await installCommunityPackage(userFolder, await buildAndPack(workDir), runtime);
		log('package built, packed and installed as a community package');

		const lanes = {} as Record<FloorRunner, RemoteSimulator>;
		for (const runner of FLOOR_RUNNERS) {
			lanes[runner] = await RemoteSimulator.start(ACCOUNT_LIMIT, { rendersAtNormalPriority: true });
			cleanups.push(() => lanes[runner].close());
		}
		const base = simulatorCredential(lanes.node.url);
		const nodeCredential = benchCredential('benchNodeCred', base, lanes.node.url);
		const loopCredential = benchCredential('benchLoopCred', base, lanes['loop 1 s'].url);
		const n8n = new N8n(runtime, userFolder, join(workDir, 'logs'), {
			N8N_RESTRICT_FILE_ACCESS_TO: filesDir,
			N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem',
		});
		await n8n.importCredentials([nodeCredential, loopCredential]);
		const workflows = benchWorkflows(nodeCredential, loopCredential);
		await n8n.importWorkflows(Object.values(workflows));
		for (const workflow of Object.values(workflows)) await n8n.publish(workflow.id);
		const server = await n8n.start();
		cleanups.push(() => server.stop());
		await server.rest.setUpOwnerAndLogIn();
		log(`n8n ${server.url} ready (PID ${server.process.pid}), filesystem binary mode`);
		const bench: Bench = { server, filesDir, lanes };

		const image = await floorImage();
		const filesFor = new Map<number, string>();
		const files = (count: number) => {
			if (!filesFor.has(count))
				filesFor.set(count, inputFiles(filesDir, `n${count}`, image, count));
			return filesFor.get(count)!;
		};
		// Warm each runner (n8n loads the nodes, the simulators load sharp).
		await measureWorkload(
			bench,
			{ name: 'warm-up', kind: 'equal', count: 2, concurrency: 2, durationsMs: [100, 100] },
			files(2),
		);
		const memory = await memoryPerCreate(bench);
		const rows: FloorRow[] = [];
		for (const workload of floorWorkloads(SIZES, [5]))
			rows.push(...(await measureWorkload(bench, workload, files(workload.count))));
		const callback = await callbackConflicts(bench, files(CALLBACK_ITEMS));

		const targets = evaluateFloorTargets(rows, memory, callback);
		console.log(
			[
				'',
				`Real n8n 2.41.1 (n8n start, filesystem binary mode, the package as a community package); ${FLOOR_NOTES.join(' ')} Wall = from the start of the node after Read Images (Kling Expand, or Loop Over Items) to the execution's end, as n8n records them.`,
				'',
				formatFloorTable(rows),
				'',
				`Targets (issue 24) in real n8n:\n${formatTargets(targets)}`,
				'',
				`Total ${seconds(Date.now() - started)}.`,
			].join('\n'),
		);
		const resultsFile = join(__dirname, '../../bench-results/n8n.json');
		mkdirSync(join(__dirname, '../../bench-results'), { recursive: true });
		writeFileSync(
			resultsFile,
			JSON.stringify({ date: new Date().toISOString(), rows, memory, callback }, null, 2),
		);
		log(`written to bench-results/n8n.json`);
	} catch (error) {
		failed = true;
		console.log(`bench:n8n failed: ${(error as Error).stack ?? String(error)}`);
	} finally {
		await close();
	}
	if (workDir && (failed || process.env.KEEP_N8N_WORKDIR === '1'))
		log(`n8n folder and logs kept in ${workDir}`);
	else if (workDir) rmSync(workDir, { recursive: true, force: true });
	return failed ? 1 : 0;
}

main().then(
	(code) => process.exit(code),
	(error: Error) => {
		console.error(error);
		process.exit(1);
	},
);
