import type { INodeExecutionData } from 'n8n-workflow';

import { runWorkflow } from '../harness/engine';
import { EXPAND_NODE, expandWorkflow, simulatorCredentials } from '../harness/workflows';
import { BASELINE_NODE, baselineWorkflow, baselineWorkflowSpec } from './baselineNode';
import { liveMb, PeakRss, rssMb, settleGarbage } from './memory';
import type { LagSummary } from './metrics';
import { apiRequests, detectionLags, floorMs, summariseLags } from './metrics';
import type { RemoteSimulator } from './remoteSimulator';
import { ACCOUNT_LIMIT, BASELINE_INTERVAL_MS, NODE_OPTIONS } from './scale';

export type Runner = 'node' | 'baseline';

export interface Workload {
	name: string;
	items: INodeExecutionData[];
	/** Duration of each accepted task, in acceptance order. */
	durationsMs: number[];
	downloadImages: boolean;
	/** The node's concurrency option; default the account limit. */
	concurrency?: number;
}

export interface Row {
	workload: string;
	runner: Runner;
	items: number;
	/** Tasks the simulator accepted. */
	tasks: number;
	wallMs: number;
	floorMs: number;
	apiRequests: number;
	requests: { creates: number; queries: number; lists: number };
	requestsPerTask: number;
	lag: LagSummary;
	rssBeforeMb: number;
	peakRssMb: number;
	/** After the run's result is dropped and garbage collected: what the run left behind. */
	rssAfterMb: number;
	/** V8 heap plus Buffers after that collection: unlike RSS, it shrinks when memory is freed. */
	liveAfterMb: number;
	rejected1303: number;
	/** Most slots held at once at the simulator. */
	peakSlots: number;
	/** Output items that are a succeeded task. */
	succeeded: number;
	error?: string;
}

const EXPANSION = 0.1;

function nodeParameters(workload: Workload) {
	return {
		operation: 'submitAndWait',
		imageSource: 'binary',
		binaryPropertyName: 'data',
		expansionMode: 'ratios',
		upExpansionRatio: EXPANSION,
		downExpansionRatio: EXPANSION,
		leftExpansionRatio: EXPANSION,
		rightExpansionRatio: EXPANSION,
		numberOfImages: 1,
		downloadImages: workload.downloadImages,
		options: { ...NODE_OPTIONS, concurrency: workload.concurrency ?? NODE_OPTIONS.concurrency },
	};
}

async function execute(simulator: RemoteSimulator, workload: Workload, runner: Runner) {
	const credentials = simulatorCredentials(simulator.url, 'accessKey');
	if (runner === 'node') {
		return {
			result: await runWorkflow(expandWorkflow(nodeParameters(workload)), {
				startNode: EXPAND_NODE,
				input: workload.items,
				credentials,
			}),
			outputNode: EXPAND_NODE,
		};
	}
	const spec = baselineWorkflowSpec({
		interval: BASELINE_INTERVAL_MS / 1000,
		downloadImages: workload.downloadImages,
		ratio: EXPANSION,
	});
	return {
		result: await runWorkflow(spec, {
			startNode: BASELINE_NODE,
			input: workload.items,
			credentials,
			workflow: await baselineWorkflow(spec),
		}),
		outputNode: BASELINE_NODE,
	};
}

/**
 * One execution of a workload in the real engine, with its figures read from the clock, the process
 * and the simulator's log. `trackMemory: false` when other runs share the process at the same time.
 */
export async function measure(
	simulator: RemoteSimulator,
	workload: Workload,
	runner: Runner,
	{ trackMemory = true } = {},
): Promise<Row> {
	await simulator.reset(workload.durationsMs, workload.durationsMs[0] ?? 300);
	if (trackMemory) await settleGarbage();
	const rssBeforeMb = trackMemory ? rssMb() : NaN;
	const peak = trackMemory ? new PeakRss() : undefined;
	const started = Date.now();
	let run: Awaited<ReturnType<typeof execute>> | undefined = await execute(
		simulator,
		workload,
		runner,
	);
	const wallMs = Date.now() - started;
	const peakRssMb = peak?.stop() ?? NaN;
	const succeeded = run.result
		.output(run.outputNode)
		.filter((item) => item.json.task_status === 'succeed' && item.json.error === undefined).length;
	const error = run.result.error ? String(run.result.error.message) : undefined;
	run = undefined;
	if (trackMemory) await settleGarbage();
	const rssAfterMb = trackMemory ? rssMb() : NaN;
	const liveAfterMb = trackMemory ? liveMb() : NaN;

	const snapshot = await simulator.snapshot();
	const lagSource = workload.downloadImages ? 'download' : 'poll';
	const tasks = snapshot.stats.accepted;
	return {
		workload: workload.name,
		runner,
		items: workload.items.length,
		tasks,
		wallMs,
		floorMs: floorMs(workload.durationsMs.slice(0, workload.items.length), ACCOUNT_LIMIT),
		apiRequests: apiRequests(snapshot),
		requests: {
			creates: snapshot.stats.creates,
			queries: snapshot.stats.queries,
			lists: snapshot.stats.lists,
		},
		requestsPerTask: tasks ? apiRequests(snapshot) / tasks : NaN,
		lag: summariseLags(detectionLags(snapshot, lagSource), lagSource),
		rssBeforeMb,
		peakRssMb,
		rssAfterMb,
		liveAfterMb,
		rejected1303: snapshot.stats.rejected1303,
		peakSlots: snapshot.stats.peakSlots,
		succeeded,
		error,
	};
}
