/**
 * The floor table of `npm run bench` (issue 24): Submit and Wait against the two loops a user could
 * build in n8n (Loop Over Items in batches of C → create → Wait 1 s or 5 s → query → If all ended →
 * download), in real time (L = 3 s), each workload run by the three side by side on three simulators,
 * so all three see the same machine. Plus the memory an 8 MB create in flight costs, and the share
 * of callbacks n8n would answer 409 in callback mode.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { runWorkflow } from '../harness/engine';
import { EXPAND_NODE, expandWorkflow, simulatorCredentials } from '../harness/workflows';
import { makeTestImage } from '../simulator';
import { createSeededRandom } from '../simulator/random';
import { BASELINE_NODE, baselineWorkflow, baselineWorkflowSpec } from './baselineNode';
import { measureCallback } from './callbackMode';
import { PeakRss, rssMb, settleGarbage } from './memory';
import { apiRequests, detectionLags, floorMs, refillTimes, summariseLags } from './metrics';
import type { LagSummary } from './metrics';
import { RemoteSimulator, type SimulatorSnapshot } from './remoteSimulator';
import type { TargetResult } from './report';
import { type Column, formatColumns, seconds } from './report';
import { ACCOUNT_LIMIT } from './scale';
import { itemsOf } from './workloads';

/** Task length L of the table, in real milliseconds (this table does not use the bench's time scale). */
export const FLOOR_TASK_MS = 3000;

/**
 * A plain 300×300 PNG (~210 kB): the simulator's render of each result then costs next to nothing, so
 * on a loaded machine the table measures waiting, not the simulator.
 */
export const floorImage = (): Promise<Buffer> =>
	makeTestImage({ width: 300, height: 300, format: 'png', seed: 24, noise: 0 });

export type FloorRunner = 'node' | 'loop 1 s' | 'loop 5 s';
export const FLOOR_RUNNERS: FloorRunner[] = ['node', 'loop 1 s', 'loop 5 s'];
const LOOP_WAIT_MS: Record<Exclude<FloorRunner, 'node'>, number> = {
	'loop 1 s': 1000,
	'loop 5 s': 5000,
};

export interface FloorWorkload {
	name: string;
	kind: 'equal' | 'spread' | 'single';
	count: number;
	concurrency: number;
	durationsMs: number[];
}

export interface FloorRow {
	workload: string;
	kind: FloorWorkload['kind'];
	runner: FloorRunner;
	items: number;
	concurrency: number;
	tasks: number;
	wallMs: number;
	floorMs: number;
	/** Creates, queries and lists per accepted task (what the provider counts). */
	apiPerTask: number;
	/** The same plus result-image downloads: every request the run sent. */
	allPerTask: number;
	/** Queries and lists: the checks. */
	checks: number;
	lag: LagSummary;
	/** Start of the run until its first task was created, and the median create path (metrics.ts refillTimes). */
	startMs: number;
	createPathMs: number;
	succeeded: number;
	error?: string;
}

const SIZES = (process.env.BENCH_FLOOR_SIZES ?? '10,50,200').split(',').map(Number);

/** N = 10, 50, 200 at C = 5 and 10, equal lengths; N = 50, C = 5 with lengths spread L/2–2L; one item of 5 s and of 30 s. */
export function floorWorkloads(sizes = SIZES, singleSeconds = [5, 30]): FloorWorkload[] {
	const workloads: FloorWorkload[] = [];
	for (const count of sizes)
		for (const concurrency of [5, 10])
			workloads.push({
				name: `Equal L, N = ${count}, C = ${concurrency}`,
				kind: 'equal',
				count,
				concurrency,
				durationsMs: new Array<number>(count).fill(FLOOR_TASK_MS),
			});
	const random = createSeededRandom(24);
	workloads.push({
		name: 'Spread L/2–2L, N = 50, C = 5',
		kind: 'spread',
		count: 50,
		concurrency: 5,
		durationsMs: Array.from({ length: 50 }, () =>
			Math.round(FLOOR_TASK_MS / 2 + random() * (2 * FLOOR_TASK_MS - FLOOR_TASK_MS / 2)),
		),
	});
	for (const realSeconds of singleSeconds)
		workloads.push({
			name: `Single item, ${realSeconds} s`,
			kind: 'single',
			count: 1,
			concurrency: 5,
			durationsMs: [realSeconds * 1000],
		});
	return workloads;
}

export function nodeParameters(
	concurrency: number | string,
	downloadImages: boolean | string = true,
) {
	return {
		operation: 'submitAndWait',
		imageSource: 'binary',
		binaryPropertyName: 'data',
		expansionMode: 'ratios',
		upExpansionRatio: 0.1,
		downExpansionRatio: 0.1,
		leftExpansionRatio: 0.1,
		rightExpansionRatio: 0.1,
		numberOfImages: 1,
		downloadImages,
		// The node's defaults (poll interval 1 s, at most 15 s, retry delay 1 s), unscaled.
		options: { concurrency },
	};
}

async function execute(
	simulator: RemoteSimulator,
	runner: FloorRunner,
	items: INodeExecutionData[],
	concurrency: number,
) {
	const credentials = simulatorCredentials(simulator.url, 'accessKey');
	if (runner === 'node') {
		const result = await runWorkflow(expandWorkflow(nodeParameters(concurrency)), {
			startNode: EXPAND_NODE,
			input: items,
			credentials,
		});
		return { result, outputNode: EXPAND_NODE };
	}
	const spec = baselineWorkflowSpec({
		interval: LOOP_WAIT_MS[runner] / 1000,
		downloadImages: true,
		ratio: 0.1,
		batchSize: concurrency,
	});
	const result = await runWorkflow(spec, {
		startNode: BASELINE_NODE,
		input: items,
		credentials,
		workflow: await baselineWorkflow(spec),
	});
	return { result, outputNode: BASELINE_NODE };
}

async function measureFloor(
	simulator: RemoteSimulator,
	workload: FloorWorkload,
	runner: FloorRunner,
	image: Buffer,
): Promise<FloorRow> {
	await simulator.reset(workload.durationsMs, FLOOR_TASK_MS);
	const items = itemsOf(image, workload.count);
	const called = Date.now();
	const run = await execute(simulator, runner, items, workload.concurrency);
	const ended = Date.now();
	// The clock starts when the runner's node starts, as in real n8n (scripts/n8n/bench.ts): the
	// harness's own setup of the workflow and its items (a few hundred ms for 200 items on a loaded
	// machine) is no runner's work.
	const started = run.result.run.data.resultData.runData[run.outputNode]?.[0]?.startTime ?? called;
	const output = run.result.output(run.outputNode);
	return floorRow(workload, runner, started, ended - started, await simulator.snapshot(), {
		succeeded: output.filter(
			(item) => item.json.task_status === 'succeed' && item.json.error === undefined,
		).length,
		error: run.result.error ? String(run.result.error.message) : undefined,
	});
}

/** One row of the table from a run's wall time and what its simulator saw (in the bench or in real n8n). */
export function floorRow(
	workload: FloorWorkload,
	runner: FloorRunner,
	startedAt: number,
	wallMs: number,
	snapshot: SimulatorSnapshot,
	outcome: { succeeded: number; error?: string },
): FloorRow {
	const tasks = snapshot.stats.accepted;
	const downloads = snapshot.requests.filter((request) =>
		request.path.startsWith('/results/'),
	).length;
	return {
		workload: workload.name,
		kind: workload.kind,
		runner,
		items: workload.count,
		concurrency: workload.concurrency,
		tasks,
		wallMs,
		floorMs: floorMs(workload.durationsMs, workload.concurrency),
		apiPerTask: apiRequests(snapshot) / tasks,
		allPerTask: (apiRequests(snapshot) + downloads) / tasks,
		checks: snapshot.stats.queries + snapshot.stats.lists,
		lag: summariseLags(detectionLags(snapshot, 'download'), 'download'),
		...refillTimes(snapshot, workload.concurrency, startedAt),
		...outcome,
	};
}

/**
 * Every workload, the three runners side by side (one simulator each), workload after workload:
 * interleaved, so a slow moment of the shared machine hits all three alike.
 */
export async function floorRuns(image: Buffer): Promise<FloorRow[]> {
	const lanes = await Promise.all(
		FLOOR_RUNNERS.map(
			async () => await RemoteSimulator.start(ACCOUNT_LIMIT, { rendersAtNormalPriority: true }),
		),
	);
	const rows: FloorRow[] = [];
	try {
		// Warm each lane (JIT, sharp loading in the simulator) with a short run of its runner.
		const warm: FloorWorkload = {
			name: 'warm-up',
			kind: 'equal',
			count: 2,
			concurrency: 2,
			durationsMs: [100, 100],
		};
		await Promise.all(
			FLOOR_RUNNERS.map(
				async (runner, lane) => await measureFloor(lanes[lane], warm, runner, image),
			),
		);
		for (const workload of floorWorkloads()) {
			const measured = await Promise.all(
				FLOOR_RUNNERS.map(
					async (runner, lane) => await measureFloor(lanes[lane], workload, runner, image),
				),
			);
			for (const row of measured) {
				process.stderr.write(
					`  ${row.workload} · ${row.runner}: ${seconds(row.wallMs)} s (×${(row.wallMs / row.floorMs).toFixed(2)} floor), ${row.allPerTask.toFixed(2)} req/task, lag p50 ${row.lag.p50Ms} ms, ${row.succeeded}/${row.items} ok${row.error ? `, failed: ${row.error}` : ''}\n`,
				);
			}
			rows.push(...measured);
		}
	} finally {
		await Promise.all(lanes.map(async (lane) => await lane.close()));
	}
	return rows;
}

export interface MemoryPerCreate {
	/** RSS rise (peak minus before) with 10 creates of an 8 MB PNG in flight at once (C = 10). */
	riseTenMb: number;
	/** The same with one (C = 1). */
	riseOneMb: number;
	/** (riseTen − riseOne) / 9: what each further create in flight adds. */
	perCreateMb: number;
	/** Runs each way whose median the rises are. */
	rounds: number;
}

/** RSS rise of one Submit and Wait run without downloads, the process to itself. */
async function riseOf(
	simulator: RemoteSimulator,
	items: INodeExecutionData[],
	concurrency: number,
): Promise<number> {
	await simulator.reset(new Array<number>(items.length).fill(FLOOR_TASK_MS), FLOOR_TASK_MS);
	await settleGarbage();
	const before = rssMb();
	const peak = new PeakRss();
	let result: unknown = await runWorkflow(expandWorkflow(nodeParameters(concurrency, false)), {
		startNode: EXPAND_NODE,
		input: items,
		credentials: simulatorCredentials(simulator.url, 'accessKey'),
	});
	const rise = peak.stop() - before;
	result = undefined;
	void result;
	await settleGarbage();
	return rise;
}

/** Memory per 8 MB create in flight: the median of three rises each way. */
export async function memoryPerCreate(
	simulator: RemoteSimulator,
	large: Buffer,
): Promise<MemoryPerCreate> {
	const median = (values: number[]) => [...values].sort((a, b) => a - b)[1];
	const ten = itemsOf(large, 10);
	const one = itemsOf(large, 1);
	const tens: number[] = [];
	const ones: number[] = [];
	for (let round = 0; round < 3; round++) {
		tens.push(await riseOf(simulator, ten, 10));
		ones.push(await riseOf(simulator, one, 1));
	}
	const riseTenMb = median(tens);
	const riseOneMb = median(ones);
	return { riseTenMb, riseOneMb, perCreateMb: (riseTenMb - riseOneMb) / 9, rounds: 3 };
}

export interface CallbackConflicts {
	items: number;
	concurrency: number;
	callbacks: number;
	/** Callbacks answered 409: they reached the execution while it was still running. */
	conflicts: number;
	/** Those 409s by the task status the callback reported. */
	conflictsByStatus: Record<string, number>;
	succeeded: number;
	heldMs: number;
	wallMs: number;
	error?: string;
}

/** Callback mode, N = 50, C = 5, L = 3 s: how many of Kling's callbacks n8n would answer 409. */
export async function callbackConflicts(
	simulator: RemoteSimulator,
	image: Buffer,
): Promise<CallbackConflicts> {
	const items = 50;
	const concurrency = 5;
	const row = await measureCallback(simulator, itemsOf(image, items), 0, {
		concurrency,
		taskMs: FLOOR_TASK_MS,
	});
	return {
		items,
		concurrency,
		callbacks: row.deliveries.length,
		conflicts: row.deliveries.filter((delivery) => delivery.status === 409).length,
		conflictsByStatus: row.deliveries
			.filter((delivery) => delivery.status === 409)
			.reduce<Record<string, number>>(
				(counts, delivery) => ({
					...counts,
					[delivery.taskStatus]: (counts[delivery.taskStatus] ?? 0) + 1,
				}),
				{},
			),
		succeeded: row.succeeded,
		heldMs: row.heldMs,
		wallMs: row.wallMs,
		error: row.error,
	};
}

const ms = (value: number) => (Number.isFinite(value) ? `${Math.round(value)}` : '–');

const COLUMNS: Column<FloorRow>[] = [
	{ title: 'Workload', width: 30, cell: (row) => row.workload },
	{ title: 'Runner', width: 8, cell: (row) => row.runner },
	{ title: 'Wall s', width: 7, cell: (row) => seconds(row.wallMs) },
	{ title: 'Floor s', width: 7, cell: (row) => seconds(row.floorMs) },
	{ title: '×floor', width: 6, cell: (row) => (row.wallMs / row.floorMs).toFixed(2) },
	{ title: 'Req/task', width: 8, cell: (row) => row.allPerTask.toFixed(2) },
	{ title: 'API/task', width: 8, cell: (row) => row.apiPerTask.toFixed(2) },
	{ title: 'Lag p50 ms', width: 10, cell: (row) => ms(row.lag.p50Ms) },
	{ title: 'Lag p95 ms', width: 10, cell: (row) => ms(row.lag.p95Ms) },
	{ title: 'Start ms', width: 8, cell: (row) => ms(row.startMs) },
	{ title: 'Create ms', width: 9, cell: (row) => ms(row.createPathMs) },
	{ title: 'OK', width: 7, cell: (row) => `${row.succeeded}/${row.items}` },
];

export function formatFloorTable(rows: FloorRow[]): string {
	return formatColumns(COLUMNS, rows);
}

export const FLOOR_NOTES = [
	`Floor table (issue 24): real time, L = ${FLOOR_TASK_MS / 1000} s, plain 300×300 PNG inputs, downloads on. Each workload runs on the node (Submit and Wait, Concurrency C, default poll options) and on two loops a user could build (Loop Over Items in batches of C → create each → Wait 1 s or 5 s → query each → If all ended, else back to Wait → download each), side by side on three simulators (results rendered at normal priority, so a loaded machine does not hold downloads back behind renders).`,
	'Wall = from the start of the runner’s node to the end of the run. Floor = every task starts the moment one of C slots frees and is seen the moment it ends. Req/task = creates + queries + lists + result downloads per accepted task; API/task leaves the downloads out. Lag = first GET of the result image minus the task’s end.',
	'Start = the run’s start until its first task was created; Create = median time from the first check after a task ended to the creation of the task that took its slot (the create’s upload and the simulator accepting it). A runner that creates only once it has seen a task end can at best reach floor + Start + (waves − 1) × Create.',
];

const byRunner = (rows: FloorRow[], workload: string, runner: FloorRunner) =>
	rows.find((row) => row.workload === workload && row.runner === runner)!;

/**
 * The fewest checks of one task of `durationMs` whose lag stays within the node's own bound (at most
 * max(poll interval, 10 % of the time waited)), when nothing tells when the task will end.
 */
export function fewestChecks(durationMs: number, minIntervalMs = 1000, growth = 0.1): number {
	let checks = 0;
	for (let at = 0; at < durationMs; checks++) at += Math.max(minIntervalMs, growth * at);
	return checks;
}

/** "4 of 15 callbacks answered 409 (4 submitted); 50/50 ok; …" */
export function callbackFigure(callback: CallbackConflicts): string {
	const byStatus = Object.entries(callback.conflictsByStatus ?? {})
		.map(([status, count]) => `${count} ${status}`)
		.join(', ');
	return `${callback.conflicts} of ${callback.callbacks} callbacks answered 409 (${byStatus || 'none'}); ${callback.succeeded}/${callback.items} ok; worker held ${seconds(callback.heldMs)} s, wall ${seconds(callback.wallMs)} s${callback.error ? `; failed: ${callback.error}` : ''}`;
}

/**
 * The least wall of a runner that creates once it has seen a slot free, with this run's create
 * times: the floor plus the first creates plus one create path per later wave (equal lengths).
 */
export function reachableMs(row: FloorRow): number {
	const waves = Math.ceil(row.items / row.concurrency);
	return row.floorMs + row.startMs + (waves > 1 ? (waves - 1) * row.createPathMs : 0);
}

/** Where the issue-24 targets stand; figures, never assertions. */
export function evaluateFloorTargets(
	rows: FloorRow[],
	memory: MemoryPerCreate,
	callback: CallbackConflicts,
): TargetResult[] {
	const workloads = [...new Set(rows.map((row) => row.workload))];
	const pick = (kind: FloorRow['kind']) =>
		workloads.filter((name) => byRunner(rows, name, 'node').kind === kind);
	const equal = pick('equal');
	const spread = pick('spread');
	const batches = [...equal, ...spread];
	const node = (name: string) => byRunner(rows, name, 'node');
	const loop1 = (name: string) => byRunner(rows, name, 'loop 1 s');
	const each = (names: string[], figure: (name: string) => string) =>
		names.map((name) => `${name}: ${figure(name)}`).join('; ');
	return [
		{
			target: 'Equal lengths: wall ≤ 1.05 × floor + 0.3 s',
			met: equal.every((name) => node(name).wallMs <= 1.05 * node(name).floorMs + 300),
			figure: each(
				equal,
				(name) =>
					`${seconds(node(name).wallMs)} s vs ${seconds(1.05 * node(name).floorMs + 300)} s (creating after seeing the end: at best ${seconds(reachableMs(node(name)))} s)`,
			),
		},
		{
			target: 'Equal lengths: ≥ 1.0× the Wait 1 s loop’s speed with ≤ half its requests',
			met: equal.every(
				(name) =>
					node(name).wallMs <= loop1(name).wallMs &&
					node(name).allPerTask <= loop1(name).allPerTask / 2,
			),
			figure: each(
				equal,
				(name) =>
					`${(loop1(name).wallMs / node(name).wallMs).toFixed(2)}×, ${node(name).allPerTask.toFixed(2)} vs ${loop1(name).allPerTask.toFixed(2)} req`,
			),
		},
		{
			target: 'Lengths spread L/2–2L: ≥ 1.15× the Wait 1 s loop’s speed',
			met: spread.every((name) => loop1(name).wallMs / node(name).wallMs >= 1.15),
			figure: each(spread, (name) => `${(loop1(name).wallMs / node(name).wallMs).toFixed(2)}×`),
		},
		{
			target: 'Batches: task end → downloaded p50 ≤ 250 ms',
			met: batches.every((name) => node(name).lag.p50Ms <= 250),
			figure: each(batches, (name) => `p50 ${ms(node(name).lag.p50Ms)} ms`),
		},
		{
			target: 'Batches: requests per task ≤ 3 (downloads included)',
			met: batches.every((name) => node(name).allPerTask <= 3),
			figure: each(batches, (name) => node(name).allPerTask.toFixed(2)),
		},
		{
			target: 'Single item: checks within 1.3× of the fewest that meet its lag bound',
			met: pick('single').every(
				(name) => node(name).checks <= 1.3 * fewestChecks(node(name).floorMs),
			),
			figure: each(
				pick('single'),
				(name) => `${node(name).checks} checks vs fewest ${fewestChecks(node(name).floorMs)}`,
			),
		},
		{
			target: 'Memory per in-flight 8 MB create ≤ 12 MB',
			met: memory.perCreateMb <= 12,
			figure: `${memory.perCreateMb.toFixed(1)} MB (RSS rise ${memory.riseTenMb.toFixed(0)} MB with 10 in flight, ${memory.riseOneMb.toFixed(0)} MB with 1; ${memory.rounds > 1 ? `medians of ${memory.rounds}` : 'first round'})`,
		},
		{
			target: 'Callback mode, N = 50, C = 5: fewer than 10 % of callbacks answered 409',
			met:
				callback.conflicts < 0.1 * callback.callbacks &&
				callback.succeeded === callback.items &&
				!callback.error,
			figure: callbackFigure(callback),
		},
	];
}
