import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { BilledResultError } from '../../shared/billedResult';
import { isToolCall } from '../../shared/output';
import { WaitCancelledError } from '../../shared/sleep';
import { TaskFailedError } from '../../shared/task';
import { KlingFailure, toNodeApiError } from '../../shared/transport/failure';
import { ValidationError } from '../../shared/validationError';
import { mapSettled } from '../helpers/concurrency';
import { WaitTimeoutError } from '../helpers/polling';
import type { Batch, ItemOutcome, ItemRun } from './batch';
import { createBatch } from './batch';
import * as dryRun from './dryRun';
import * as getTask from './getTask.operation';
import * as listTasks from './listTasks.operation';
import * as submit from './submit.operation';
import * as submitAndWait from './submitAndWait';

type OperationExecute = (
	this: IExecuteFunctions,
	itemIndex: number,
	run: ItemRun,
	batch: Batch,
) => Promise<INodeExecutionData[]>;

interface Operation {
	execute: OperationExecute;
	parallel: boolean;
	/**
	 * Items hold the run's slots only while their task runs: one more item per slot is read and
	 * checked ahead, waiting for a slot, so its create is sent the moment one frees (and downloads
	 * run beside the creates).
	 */
	readAhead?: boolean;
	/**
	 * Turns the items' outcomes into the node's output (callback mode: marks them and puts the
	 * execution to wait).
	 */
	finish?: (
		this: IExecuteFunctions,
		batch: Batch,
		outcomes: ItemOutcome[],
	) => Promise<INodeExecutionData[][]>;
}

/** An AI agent's tool call cannot sleep until a callback: it polls instead, and says so. */
const TOOL_FALLBACK_NOTE =
	'Callback (Resume) wait mode needs the execution to sleep, which an AI agent tool call cannot ' +
	'do: this run waited by polling Kling instead';

/**
 * Submits run items side by side (bounded by the concurrency option); reads run one item at a time.
 */
const operations: Record<string, Operation> = {
	submit: { execute: submit.execute, parallel: true },
	submitAndWait: { execute: submitAndWait.execute, parallel: true, readAhead: true },
	getTask: { execute: getTask.execute, parallel: false },
	listTasks: { execute: listTasks.execute, parallel: false },
};

/** The tasks the provider accepted (it answered with their task_id): a refused create made none. */
const accepted = (tasks: ItemRun['tasks']) => tasks.filter((task) => task.task_id !== undefined);

const describeTasks = (tasks: ItemRun['tasks']) =>
	tasks
		.map((task) =>
			task.task_id
				? `${task.task_id} (external_task_id ${task.external_task_id})`
				: `external_task_id ${task.external_task_id}`,
		)
		.join(', ');

/**
 * The one sentence that names what a run left at Kling, so Get Task can fetch it; empty when
 * nothing was accepted.
 */
const submittedSentence = (tasks: ItemRun['tasks'], whose = 'Tasks already submitted') =>
	tasks.length ? `${whose}: ${describeTasks(tasks)} (use Get Task to fetch them).` : '';

/**
 * Every failure becomes an n8n error carrying the item index and the tasks the item already
 * submitted.
 */
function toNodeError(
	ctx: IExecuteFunctions,
	error: unknown,
	run: ItemRun,
): NodeApiError | NodeOperationError {
	const node = ctx.getNode();
	const { itemIndex } = run;
	const submitted = submittedSentence(accepted(run.tasks)) || 'Nothing was submitted to Kling.';
	if (error instanceof KlingFailure)
		return toNodeApiError(node, error, {
			itemIndex,
			submitted: submittedSentence(accepted(run.tasks)),
		});
	if (error instanceof ValidationError) {
		return new NodeOperationError(node, error.message, {
			itemIndex,
			description: 'Nothing was sent to Kling: fix the field named above.',
		});
	}
	if (error instanceof TaskFailedError) {
		return new NodeOperationError(node, error.message, {
			itemIndex,
			description:
				`task_id ${error.task.task_id}; Kling's reason: ` +
				`${error.task.task_status_msg || 'none given'}.`,
		});
	}
	if (error instanceof BilledResultError)
		return new NodeOperationError(node, error.message, { itemIndex, description: error.remedy });
	if (error instanceof WaitTimeoutError || error instanceof WaitCancelledError) {
		return new NodeOperationError(node, error.message, { itemIndex, description: submitted });
	}
	if (error instanceof NodeApiError || error instanceof NodeOperationError) {
		error.context.itemIndex ??= itemIndex;
		return error;
	}
	return new NodeOperationError(node, error as Error, { itemIndex, description: submitted });
}

/** The item an error becomes under Continue On Fail: the message, the remedy and the task ids. */
function errorItem(
	error: NodeApiError | NodeOperationError,
	run: ItemRun,
	cause: unknown,
): INodeExecutionData {
	const json: IDataObject = { error: error.message };
	if (error.description) json.description = error.description;
	const last = run.tasks[run.tasks.length - 1];
	if (cause instanceof TaskFailedError) {
		json.task_id = cause.task.task_id;
		json.task_status = cause.task.task_status;
		json.task_status_msg = cause.task.task_status_msg;
	} else if (cause instanceof BilledResultError) json.task_id = cause.task.task_id;
	else if (last?.task_id) json.task_id = last.task_id;
	if (last) json.external_task_id = last.external_task_id;
	return { json, pairedItem: { item: run.itemIndex } };
}

/** Run-wide options refused before anything is sent, as the first item's error. */
function settleOptions<T>(ctx: IExecuteFunctions, read: () => T): T {
	try {
		return read();
	} catch (error) {
		throw toNodeError(ctx, error, { itemIndex: 0, tasks: [] });
	}
}

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const operationName = this.getNodeParameter('operation', 0) as string;
	const callbackMode =
		operationName === 'submitAndWait' &&
		this.getNodeParameter('waitMode', 0, 'poll') === 'callback';
	const asTool = callbackMode && isToolCall(this);
	// Read from the first item, like Wait Mode: one run is either real or a dry run.
	const isDryRun =
		(operationName === 'submit' || operationName === 'submitAndWait') &&
		this.getNodeParameter('dryRun', 0, false) === true;
	const operation: Operation | undefined = isDryRun
		? { execute: dryRun.execute, parallel: true }
		: callbackMode && !asTool
			? { ...submitAndWait.callbackMode, parallel: true, readAhead: true }
			: operations[operationName];
	if (!operation)
		throw new NodeOperationError(
			this.getNode(),
			`The operation "${operationName}" is not supported`,
		);
	const count = this.getInputData().length;
	const batch = settleOptions(this, () => createBatch(this));
	const runs: ItemRun[] = Array.from({ length: count }, (_, itemIndex) => ({
		itemIndex,
		tasks: [],
	}));
	const workers = operation.parallel ? batch.concurrency * (operation.readAhead ? 2 : 1) : 1;
	const settled = await mapSettled(
		count,
		workers,
		async (itemIndex) => await operation.execute.call(this, itemIndex, runs[itemIndex], batch),
	);

	const outcomes: ItemOutcome[] = [];
	for (const [itemIndex, result] of settled.entries()) {
		if (result.status === 'fulfilled') {
			outcomes.push({
				items: result.value.map((item) => ({ ...item, pairedItem: { item: itemIndex } })),
				failed: false,
			});
			continue;
		}
		const error = toNodeError(this, result.reason, runs[itemIndex]);
		if (!this.continueOnFail()) {
			// The run's output is lost with this error, so it names every task the run submitted.
			const others = runs
				.filter((run) => run.itemIndex !== itemIndex)
				.flatMap((run) => accepted(run.tasks));
			if (others.length)
				error.description =
					`${error.description ?? ''} ` +
					`${submittedSentence(others, 'Other tasks submitted in this run')}`.trim();
			throw error;
		}
		outcomes.push({ items: [errorItem(error, runs[itemIndex], result.reason)], failed: true });
	}
	if (operation.finish) return await operation.finish.call(this, batch, outcomes);
	const output = outcomes.flatMap((outcome) => outcome.items);
	if (asTool && !isDryRun)
		for (const item of output)
			Object.assign(item.json, { wait_mode: 'poll', wait_mode_note: TOOL_FALLBACK_NOTE });
	return [output];
}
