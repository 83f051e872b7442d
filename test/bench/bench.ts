/**
 * `npm run bench`: the Kling Expand node against the n8n-loop baseline, in n8n-core's engine, on the
 * simulator (in a child process). Prints a table and where each target of issue 5 stands, and writes
 * both to bench-results/bench.json. Targets are reported, never asserted.
 */
import '../harness/env';

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { INodeExecutionData } from 'n8n-workflow';

import type { CallbackRow } from './callbackMode';
import {
	CALLBACK_NOTES,
	CALLBACK_SIZES,
	formatCallbackTable,
	measureCallback,
	UNRELATED_TASKS,
} from './callbackMode';
import type { CallbackConflicts, FloorRow, MemoryPerCreate } from './floor';
import {
	callbackConflicts,
	evaluateFloorTargets,
	FLOOR_NOTES,
	floorImage,
	floorRuns,
	formatFloorTable,
	memoryPerCreate,
} from './floor';
import { RemoteSimulator } from './remoteSimulator';
import { benchAndReal, formatTable, formatTargets } from './report';
import type { Row, Runner, Workload } from './runners';
import { measure } from './runners';
import {
	ACCOUNT_LIMIT,
	BASELINE_INTERVAL_MS,
	NODE_OPTIONS,
	NODE_POLL_GROWTH,
	SCALE,
	TASK_MS,
} from './scale';
import type { Results } from './targets';
import { evaluateTargets } from './targets';
import { makeTestImage } from '../simulator';
import {
	batchWorkload,
	itemsOf,
	largeImage,
	largeWorkload,
	mixedWorkload,
	smallImage,
	SWEEP_REAL_SECONDS,
	sweepWorkload,
} from './workloads';

const RESULTS_FILE = path.resolve(__dirname, '../../bench-results/bench.json');

const NOTES = [
	`Time scale 1:${SCALE}: L = ${benchAndReal(TASK_MS)}; every duration and interval is divided by ${SCALE} (figures below are bench seconds).`,
	`Node: Submit and Wait, concurrency ${NODE_OPTIONS.concurrency}, pollInterval ${NODE_OPTIONS.pollInterval} s, maxPollInterval ${NODE_OPTIONS.maxPollInterval} s, retryDelay ${NODE_OPTIONS.retryDelay} s, poll growth ${NODE_POLL_GROWTH} (defaults scaled); JWT auth; ratios 0.1 per side, n = 1.`,
	`Baseline: n8n-nodes-base cannot be installed here (its 2.41 release depends on an unpublished package), so the baseline is a bench node in the same engine doing exactly what Loop Over Items (1) → HTTP Request create → Wait ${BASELINE_INTERVAL_MS / 1000} s → HTTP Request query → If terminal (else back to Wait) → HTTP Request download does, with the same credential and n8n's request helper.`,
	`Simulator: its own process, account limit ${ACCOUNT_LIMIT} slots (1303 above it). Requests/task = (creates + queries + lists) / accepted tasks; downloads not counted. Floor = zero-overhead in-order schedule on ${ACCOUNT_LIMIT} slots (= ceil(N/C) × L for equal durations).`,
	"Detection lag = the first GET of the task's result image minus the simulator's completion time: both runners download the moment they see a task terminal, so this is when its result is in hand. Without downloads (large inputs, marked ≥) it is the first query of the task or list after completion, a lower bound. % dur = lag / that task's duration.",
	'RSS is the bench process (engine + node; the simulator is elsewhere, at low CPU priority), sampled every 50 ms plus the kernel high-water mark; (+run) = peak minus RSS before the run, after a full GC. Large inputs run without downloads: n8n keeps every output image in memory, which would measure n8n, not the node.',
	`Per-request costs (creating, downloading, the engine's own work) are not scaled, so they weigh ${SCALE}× more here than in real use; BENCH_SCALE=1 runs in real time.`,
	'Node runs and the large-input baseline each have the process to themselves; the small-image baselines (mostly asleep in their Wait) run side by side in three lanes on their own simulators, so their RSS is not reported.',
];

const warmUp = (image: Buffer): Workload => ({
	name: 'warm-up',
	items: itemsOf(image, 2),
	durationsMs: [100, 100],
	downloadImages: true,
});

function progress(row: Row): void {
	process.stderr.write(
		`  ${row.workload} · ${row.runner}: ${(row.wallMs / 1000).toFixed(2)} s, ${row.succeeded}/${row.items} ok${row.error ? `, failed: ${row.error}` : ''}\n`,
	);
}

async function measured(
	simulator: RemoteSimulator,
	workload: Workload,
	runner: Runner,
	trackMemory = true,
): Promise<Row> {
	const row = await measure(simulator, workload, runner, { trackMemory });
	progress(row);
	return row;
}

/** Every node run, one after another on one simulator, each with the process to itself. */
async function nodeRuns(simulator: RemoteSimulator, small: Buffer, large: INodeExecutionData[]) {
	// The batch decides two targets and varies run to run by a few %, so it runs three times; the median counts.
	const batchRuns: Row[] = [];
	for (let index = 1; index <= 3; index++)
		batchRuns.push(
			await measured(simulator, batchWorkload(small, undefined, `(run ${index} of 3)`), 'node'),
		);
	const batch = [...batchRuns].sort((a, b) => a.wallMs - b.wallMs)[1];
	const overLimit = await measured(simulator, batchWorkload(small, 15), 'node');
	const mixed = await measured(simulator, mixedWorkload(small), 'node');
	const sweep: Array<{ realSeconds: number; single: Row; ten: Row }> = [];
	for (const realSeconds of SWEEP_REAL_SECONDS) {
		sweep.push({
			realSeconds,
			single: await measured(simulator, sweepWorkload(small, realSeconds, 1), 'node'),
			ten: await measured(simulator, sweepWorkload(small, realSeconds, 10), 'node'),
		});
	}
	const largeRuns: Row[] = [];
	for (let index = 1; index <= 3; index++)
		largeRuns.push(await measured(simulator, largeWorkload(large, `(run ${index} of 3)`), 'node'));
	const half = await measured(simulator, largeWorkload(large.slice(0, 10), '(10 items)'), 'node');
	return { batch, batchRuns, overLimit, mixed, sweep, largeRuns, half };
}

/**
 * The small-image baselines spend nearly all their time in their Wait, so they run side by side in
 * three lanes, each on its own simulator; their RSS is not reported, the process being shared.
 */
async function smallBaselines(small: Buffer) {
	const lanes = await Promise.all([
		RemoteSimulator.start(ACCOUNT_LIMIT),
		RemoteSimulator.start(ACCOUNT_LIMIT),
		RemoteSimulator.start(ACCOUNT_LIMIT),
	]);
	try {
		// A fresh simulator's first requests are slow (JIT, sharp loading): warm each lane first.
		await Promise.all(
			lanes.map(
				async (lane) => await measure(lane, warmUp(small), 'baseline', { trackMemory: false }),
			),
		);
		const [batch, mixed, sweep] = await Promise.all([
			measured(lanes[0], batchWorkload(small), 'baseline', false),
			measured(lanes[1], mixedWorkload(small), 'baseline', false),
			(async () => {
				const rows: Row[] = [];
				for (const realSeconds of SWEEP_REAL_SECONDS)
					rows.push(
						await measured(lanes[2], sweepWorkload(small, realSeconds, 1), 'baseline', false),
					);
				return rows;
			})(),
		]);
		return { batch, mixed, sweep };
	} finally {
		await Promise.all(lanes.map(async (lane) => await lane.close()));
	}
}

/** Callback (Resume) mode at N = 10, 100, 1000, with and without newer tasks of other workflows (issue 11). */
async function callbackRuns(simulator: RemoteSimulator): Promise<CallbackRow[]> {
	const image = await makeTestImage({ width: 300, height: 300, format: 'png', seed: 11, noise: 0 });
	const rows: CallbackRow[] = [];
	for (const size of CALLBACK_SIZES) {
		for (const unrelated of [0, UNRELATED_TASKS]) {
			const row = await measureCallback(simulator, itemsOf(image, size), unrelated);
			process.stderr.write(
				`  callback mode · ${size} items, ${unrelated} newer others: held ${(row.heldMs / 1000).toFixed(2)} s, wall ${(row.wallMs / 1000).toFixed(2)} s, ${row.succeeded}/${row.items} ok${row.error ? `, failed: ${row.error}` : ''}\n`,
			);
			rows.push(row);
		}
	}
	return rows;
}

/** The floor table, the memory per create in flight and callback-mode 409s (issue 24). */
async function floorSection(simulator: RemoteSimulator, small: Buffer, large: Buffer) {
	process.stderr.write('  floor table (real time, three runners side by side)…\n');
	const rows: FloorRow[] = await floorRuns(await floorImage());
	const memory: MemoryPerCreate = await memoryPerCreate(simulator, large);
	const callback: CallbackConflicts = await callbackConflicts(simulator, small);
	const targets = evaluateFloorTargets(rows, memory, callback);
	const text = `${FLOOR_NOTES.join('\n')}\n\n${formatFloorTable(rows)}\n\nTargets (issue 24):\n${formatTargets(targets)}`;
	return { rows, memory, callback, targets, text };
}

const FLOOR_RESULTS_FILE = path.resolve(__dirname, '../../bench-results/floor.json');

async function main(): Promise<void> {
	const startedAt = Date.now();
	const simulator = await RemoteSimulator.start(ACCOUNT_LIMIT);
	try {
		// BENCH_ONLY=floor runs the floor table (issue 24) alone.
		if (process.env.BENCH_ONLY === 'floor') {
			const small = await smallImage();
			await measure(simulator, warmUp(small), 'node');
			const floor = await floorSection(simulator, small, await largeImage());
			const totalSeconds = (Date.now() - startedAt) / 1000;
			console.log(
				`\n${floor.text}\n\nTotal bench time ${totalSeconds.toFixed(0)} s (build not included).`,
			);
			mkdirSync(path.dirname(FLOOR_RESULTS_FILE), { recursive: true });
			const { text: _text, ...figures } = floor;
			writeFileSync(
				FLOOR_RESULTS_FILE,
				JSON.stringify({ date: new Date().toISOString(), ...figures, totalSeconds }, null, 2),
			);
			console.log(`Written to ${path.relative(process.cwd(), FLOOR_RESULTS_FILE)}`);
			return;
		}
		// BENCH_ONLY=callback runs the callback-mode table alone.
		if (process.env.BENCH_ONLY === 'callback') {
			await measure(simulator, warmUp(await smallImage()), 'node');
			const callbackRows = await callbackRuns(simulator);
			console.log(
				`\n${CALLBACK_NOTES.join('\n')}\n\n${formatCallbackTable(callbackRows)}\n\nTotal bench time ${((Date.now() - startedAt) / 1000).toFixed(0)} s (build not included).`,
			);
			return;
		}
		const small = await smallImage();
		// Loads the package and warms the request path, so the first measured run pays no start-up.
		for (const runner of ['node', 'baseline'] as const)
			await measure(simulator, warmUp(small), runner);
		process.stderr.write('  making 20 large PNG inputs…\n');
		const largeImageBytes = await largeImage();
		const large = itemsOf(largeImageBytes, 20);

		const node = await nodeRuns(simulator, small, large);
		const largeBaseline = await measured(simulator, largeWorkload(large, ''), 'baseline');
		const baseline = await smallBaselines(small);
		const callbackRows = await callbackRuns(simulator);
		// BENCH_ONLY=tables leaves the floor table out (it takes about 17 minutes of real time).
		const floor =
			process.env.BENCH_ONLY === 'tables'
				? undefined
				: await floorSection(simulator, small, largeImageBytes);

		const results: Results = {
			batch: { node: node.batch, baseline: baseline.batch },
			overLimit: node.overLimit,
			mixed: { node: node.mixed, baseline: baseline.mixed },
			sweep: node.sweep.map((entry, index) => ({ ...entry, baseline: baseline.sweep[index] })),
			large: { runs: node.largeRuns, half: node.half, baseline: largeBaseline },
		};
		const rows = [
			...node.batchRuns,
			results.batch.baseline,
			results.overLimit,
			results.mixed.node,
			results.mixed.baseline,
			...results.sweep.flatMap((entry) => [entry.single, entry.ten, entry.baseline]),
			...results.large.runs,
			results.large.half,
			results.large.baseline,
		];
		const targets = evaluateTargets(results);
		const totalSeconds = (Date.now() - startedAt) / 1000;
		console.log(
			`\n${NOTES.join('\n')}\n\n${formatTable(rows)}\n\nTargets (issue 5):\n${formatTargets(targets)}\n\n${CALLBACK_NOTES.join('\n')}\n\n${formatCallbackTable(callbackRows)}\n\n${floor?.text ?? ''}\n\nTotal bench time ${totalSeconds.toFixed(0)} s (build not included).`,
		);
		mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
		writeFileSync(
			RESULTS_FILE,
			JSON.stringify(
				{
					date: new Date().toISOString(),
					scale: SCALE,
					taskMs: TASK_MS,
					nodeOptions: NODE_OPTIONS,
					baselineIntervalMs: BASELINE_INTERVAL_MS,
					notes: NOTES,
					rows,
					targets,
					callbackNotes: CALLBACK_NOTES,
					callbackRows,
					floor: floor && {
						rows: floor.rows,
						memory: floor.memory,
						callback: floor.callback,
						targets: floor.targets,
					},
					totalSeconds,
				},
				null,
				2,
			),
		);
		console.log(`Written to ${path.relative(process.cwd(), RESULTS_FILE)}`);
	} finally {
		await simulator.close();
	}
}

main().catch((error) => {
	console.error(error);
	process.exitCode = 1;
});
