/**
 * The callback-mode table of `npm run bench` (issue 11): Submit and Wait in Callback (Resume) mode, run as
 * n8n runs a waiting execution (test/harness/waiting.ts: the execution is stored as JSON when it sleeps, each
 * callback runs the node's webhook(), the first workflowData resumes it), against the simulator in its own
 * process, which delivers every status callback to the harness's resume endpoint on 127.0.0.1.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { waitingExecution } from '../harness/waiting';
import { EXPAND_NODE, expandWorkflow, simulatorCredentials } from '../harness/workflows';
import { PeakRss, rssMb, settleGarbage } from './memory';
import { floorMs } from './metrics';
import type { RemoteSimulator } from './remoteSimulator';
import { type Column, formatColumns, seconds } from './report';
import { ACCOUNT_LIMIT, NODE_OPTIONS, realSeconds, scaledMs } from './scale';

/** Short tasks (5 s real), so 1000 items on 10 slots (100 waves) stay within a minute of bench time. */
export const CALLBACK_TASK_MS = scaledMs(5);
export const CALLBACK_SIZES = [10, 100, 1000];
/** Ended tasks of other workflows, added when the execution goes to sleep: newer than the whole batch, they push it off the first list page. */
export const UNRELATED_TASKS = 600;

export interface CallbackRow {
	items: number;
	unrelated: number;
	/** Tasks the simulator accepted. */
	tasks: number;
	/** Start until the execution was put to wait: the time a worker is held. */
	heldMs: number;
	/** The earliest the last item can be submitted on ACCOUNT_LIMIT slots: the start of the last wave. */
	heldFloorMs: number;
	/** Start until the resumed run ended. */
	wallMs: number;
	wallFloorMs: number;
	requests: { creates: number; queries: number; lists: number; downloads: number };
	/** Result images the tasks produced. */
	images: number;
	rssBeforeMb: number;
	peakRssMb: number;
	rejected1303: number;
	peakSlots: number;
	/** Callbacks whose webhook() resumed the execution. */
	resumes: number;
	succeeded: number;
	/** Every callback the resume endpoint answered, with its status (409: the execution was not waiting). */
	deliveries: Array<{ status: number; taskStatus: string }>;
	error?: string;
}

/** When the ideal in-order schedule on `slots` slots starts the last task. */
function lastStartMs(durationsMs: number[], slots: number): number {
	const freeAt = new Array<number>(Math.min(slots, durationsMs.length)).fill(0);
	let start = 0;
	for (const duration of durationsMs) {
		const slot = freeAt.indexOf(Math.min(...freeAt));
		start = freeAt[slot];
		freeAt[slot] += duration;
	}
	return start;
}

function parameters(concurrency: number) {
	return {
		operation: 'submitAndWait',
		waitMode: 'callback',
		imageSource: 'binary',
		binaryPropertyName: 'data',
		expansionMode: 'ratios',
		upExpansionRatio: 0.1,
		downExpansionRatio: 0.1,
		leftExpansionRatio: 0.1,
		rightExpansionRatio: 0.1,
		numberOfImages: 1,
		downloadImages: true,
		options: { ...NODE_OPTIONS, concurrency },
	};
}

export async function measureCallback(
	simulator: RemoteSimulator,
	items: INodeExecutionData[],
	unrelated: number,
	{ concurrency = ACCOUNT_LIMIT, taskMs = CALLBACK_TASK_MS } = {},
): Promise<CallbackRow> {
	const durations = new Array<number>(items.length).fill(taskMs);
	await simulator.reset(durations, taskMs);
	await settleGarbage();
	const rssBeforeMb = rssMb();
	const peak = new PeakRss();
	const execution = await waitingExecution(
		expandWorkflow(parameters(concurrency)),
		EXPAND_NODE,
		simulatorCredentials(simulator.url, 'accessKey'),
	);
	const started = Date.now();
	let error: string | undefined;
	let succeeded = 0;
	let heldMs = NaN;
	let wallMs = NaN;
	try {
		const run = await execution.start(items);
		heldMs = Date.now() - started;
		if (run.run.status !== 'waiting')
			throw new Error(
				`the execution is ${run.run.status}${run.error ? `: ${String(run.error.message)}` : ''}`,
			);
		if (unrelated) await simulator.seedUnrelatedTasks(unrelated);
		const resumed = await execution.resumedRun(10 * 60_000);
		wallMs = Date.now() - started;
		if (!resumed) throw new Error('no callback resumed the execution');
		succeeded = resumed
			.output(EXPAND_NODE)
			.filter(
				(item) => item.json.task_status === 'succeed' && item.binary?.data !== undefined,
			).length;
		if (resumed.error) error = String(resumed.error.message);
	} catch (failure) {
		error = (failure as Error).message;
	}
	const peakRssMb = peak.stop();
	// Let late callbacks (after the resume) arrive: they must cost nothing, and they are counted if they do.
	await new Promise((resolve) => setTimeout(resolve, 300));
	const resumes = execution.deliveries.filter((delivery) => delivery.resumed).length;
	const deliveries = execution.deliveries.map((delivery) => ({
		status: delivery.status,
		taskStatus: String((delivery.body as { task_status?: unknown }).task_status),
	}));
	await execution.close();
	const snapshot = await simulator.snapshot();
	const downloads = snapshot.requests.filter((request) =>
		request.path.startsWith('/results/'),
	).length;
	const { creates, queries, lists, accepted, rejected1303, peakSlots } = snapshot.stats;
	return {
		items: items.length,
		unrelated,
		tasks: accepted,
		heldMs,
		heldFloorMs: lastStartMs(durations, concurrency),
		wallMs,
		wallFloorMs: floorMs(durations, concurrency),
		requests: { creates, queries, lists, downloads },
		images: accepted,
		rssBeforeMb,
		peakRssMb,
		rejected1303,
		peakSlots,
		resumes,
		succeeded,
		deliveries,
		error,
	};
}

const per = (value: number, tasks: number) => (tasks ? (value / tasks).toFixed(2) : '–');

const COLUMNS: Column<CallbackRow>[] = [
	{ title: 'Items', width: 5, cell: (row) => String(row.items) },
	{ title: 'Newer others', width: 12, cell: (row) => String(row.unrelated) },
	{ title: 'Creates/t', width: 9, cell: (row) => per(row.requests.creates, row.tasks) },
	{ title: 'Queries/t', width: 9, cell: (row) => per(row.requests.queries, row.tasks) },
	{ title: 'Lists/t', width: 7, cell: (row) => per(row.requests.lists, row.tasks) },
	{ title: 'Downl./t', width: 8, cell: (row) => per(row.requests.downloads, row.tasks) },
	{
		title: 'Total/t',
		width: 7,
		cell: (row) =>
			per(
				row.requests.creates + row.requests.queries + row.requests.lists + row.requests.downloads,
				row.tasks,
			),
	},
	{ title: 'Downl./image', width: 12, cell: (row) => per(row.requests.downloads, row.images) },
	{ title: 'Held s', width: 7, cell: (row) => seconds(row.heldMs) },
	{ title: 'Held floor s', width: 12, cell: (row) => seconds(row.heldFloorMs) },
	{ title: 'Wall s', width: 7, cell: (row) => seconds(row.wallMs) },
	{ title: 'Floor s', width: 7, cell: (row) => seconds(row.wallFloorMs) },
	{
		title: 'RSS peak MB (+run)',
		width: 18,
		cell: (row) =>
			`${row.peakRssMb.toFixed(0)} (+${Math.max(0, row.peakRssMb - row.rssBeforeMb).toFixed(0)})`,
	},
	{ title: '1303', width: 4, cell: (row) => String(row.rejected1303) },
	{ title: 'Slots', width: 5, cell: (row) => String(row.peakSlots) },
	{ title: 'Resumes', width: 7, cell: (row) => String(row.resumes) },
	{ title: 'OK', width: 9, cell: (row) => `${row.succeeded}/${row.items}` },
];

export function formatCallbackTable(rows: CallbackRow[]): string {
	return formatColumns(COLUMNS, rows);
}

export const CALLBACK_NOTES = [
	`Callback (Resume) mode: account limit ${ACCOUNT_LIMIT} slots, Concurrency ${ACCOUNT_LIMIT}, every task ${seconds(CALLBACK_TASK_MS)} s (${realSeconds(CALLBACK_TASK_MS).toFixed(0)} s real), downloads on, 300×300 PNG inputs (~210 kB; results ~250 kB). "Newer others": ended tasks of other workflows added when the execution sleeps, so the batch is off the first list page.`,
	'Per task (/t) = requests of that kind ÷ accepted tasks; Total/t counts creates (1303-refused ones too), queries, lists and image downloads. Downl./image = result-image GETs ÷ images.',
	'Held = start until the execution is put to wait: the worker is held only until the last item is submitted (the design: webhook() cannot submit, see the README). Held floor = when the last item could start at the earliest on these slots ((ceil(N/10) − 1) × task); Floor = when the last task could end.',
	"RSS is the bench process: engine, node, the harness that keeps the waiting execution (every input image, in-memory binary mode) as JSON as n8n's database would, and the resumed run holding every downloaded image in memory.",
];
