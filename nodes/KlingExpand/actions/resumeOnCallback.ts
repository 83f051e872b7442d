import type { IDataObject, IExecuteFunctions, INodeExecutionData, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { downloadTaskImages, imagesOutputFrom, imagesToItems } from '../helpers/binary';
import { mapSettled } from '../helpers/concurrency';
import type { KlingTask } from '../helpers/task';
import { isTerminal, normaliseTask } from '../helpers/task';
import { DEFAULT_POLICY, queryTasks } from '../transport';
import type { ItemRun } from './batch';
import { createBatch } from './batch';
import { callbackBatchId } from './externalIds';
import { prepareCreate, submitPrepared } from './submit.operation';

/**
 * Submit and Wait in callback mode: the execution sleeps in n8n's database (no worker is held) and Kling's
 * terminal callback resumes it, the way n8n's Wait node resumes on a webhook call.
 *
 * execute() submits every item with `callback_url` = this execution's resume URL, plus the batch's
 * identity in the query (`kling_batch`, `kling_items`), then waits. Each item's external_task_id is
 * derived from the execution, the batch and the item index, so webhook() can find every task again.
 * webhook() runs on each callback, on the main process and without the input items: it resumes only
 * when the whole batch has ended, outputting every task in input order.
 *
 * If the wait times out, n8n resumes the execution without running any node code and passes the node's
 * input items through unchanged. So execute() writes each item's pending task onto its input item
 * (wait_status 'timed_out', task_id, external_task_id) before sleeping: those are what come out then.
 */

const BATCH = 'kling_batch';
const ITEMS = 'kling_items';
const EXECUTION = 'kling_execution';

/**
 * Kling is waiting for the answer to its callback: a few quick tries, not the node's minute of backoff. If
 * they all fail, the callback gets an error, and the wait's timeout still brings every task out by name.
 */
const CALLBACK_QUERY_POLICY = { attempts: 3, retryDelayMs: 500, timeoutMs: 10_000 };

const externalId = (executionId: string, batch: string, itemIndex: number) => `n8n-${executionId}-${batch}-${itemIndex}`;

/** The task as an output item: downloaded images when asked, an error item for a failed or lost task. */
async function taskToItems(ctx: IExecuteFunctions | IWebhookFunctions, itemIndex: number, externalTaskId: string, task: KlingTask | undefined, options: IDataObject, download: boolean): Promise<INodeExecutionData[]> {
	const paired = (items: INodeExecutionData[]) => items.map((item) => ({ ...item, pairedItem: { item: itemIndex } }));
	if (!task) {
		return paired([{ json: { wait_status: 'not_submitted', external_task_id: externalTaskId, error: `Kling has no task ${externalTaskId}: item ${itemIndex} was not submitted (see this node's run before the wait)` } }]);
	}
	if (task.task_status === 'failed') {
		return paired([{ json: { ...task, wait_status: 'completed', error: `Kling task ${task.task_id} failed: ${task.task_status_msg || 'no reason given'}` } as unknown as IDataObject }]);
	}
	const json = { ...task, wait_status: 'completed' } as unknown as IDataObject;
	if (!download) return paired([{ json }]);
	const output = imagesOutputFrom(options);
	return paired(imagesToItems(json, await downloadTaskImages(ctx, task, DEFAULT_POLICY, output.maxBytes), output));
}

export async function executeWithCallback(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const batch = createBatch(this);
	const executionId = String(this.getExecutionId());
	const batchId = callbackBatchId(this);
	const resumeUrl = new URL(String(this.evaluateExpression('{{ $execution.resumeUrl }}', 0)));
	resumeUrl.searchParams.set(BATCH, batchId);
	resumeUrl.searchParams.set(ITEMS, String(items.length));
	resumeUrl.searchParams.set(EXECUTION, executionId);
	const runs: ItemRun[] = items.map((_, itemIndex) => ({ itemIndex, tasks: [] }));

	const settled = await mapSettled(items.length, batch.concurrency, async (itemIndex) => {
		const prepared = await prepareCreate(this, itemIndex, batch.policy, resumeUrl.toString(), externalId(executionId, batchId, itemIndex));
		return await submitPrepared(this, prepared, runs[itemIndex], batch.policy);
	});
	const failure = settled.find((result) => result.status === 'rejected');
	if (failure && !this.continueOnFail()) {
		// Only tasks Kling accepted (it answered their task_id): a refused create made none.
		const submitted = runs.flatMap((run) => run.tasks.flatMap((task) => (task.task_id ? [task.task_id] : [])));
		throw new NodeOperationError(this.getNode(), (failure as PromiseRejectedResult).reason as Error, {
			description: submitted.length ? `Tasks already submitted: ${submitted.join(', ')} (use Get Task to fetch them).` : 'Nothing was sent to Kling.',
		});
	}

	// What comes out if the wait times out (see above): the input items, marked with their pending task.
	settled.forEach((result, itemIndex) => {
		const json = items[itemIndex].json;
		json.wait_status = result.status === 'fulfilled' ? 'timed_out' : 'not_submitted';
		json.external_task_id = externalId(executionId, batchId, itemIndex);
		if (result.status === 'fulfilled') {
			json.task_id = result.value.task_id;
			json.message = `Kling had not reported task ${result.value.task_id} when the wait ended: fetch it with Get Task`;
		} else {
			json.error = ((result as PromiseRejectedResult).reason as Error).message;
		}
	});

	const timeoutSeconds = ((this.getNodeParameter('options', 0, {}) as { timeout?: number }).timeout ?? 600);
	await this.putExecutionToWait(new Date(Date.now() + timeoutSeconds * 1000));
	return [items];
}

/** Runs on each callback to the resume URL: answers, and resumes the execution once the whole batch has ended. */
export async function resumeOnCallback(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = this.getRequestObject();
	const response = this.getResponseObject();
	const query = request.query as Record<string, string | undefined>;
	const count = Number(query[ITEMS]);
	if (!query[BATCH] || !query[EXECUTION] || !Number.isInteger(count) || count < 1 || count > 10_000) {
		response.status(400).json({ error: 'not a Kling Expand resume URL' });
		return { noWebhookResponse: true };
	}
	const task = normaliseTask((request.body as IDataObject)?.data ?? request.body);
	if (!task) {
		response.status(400).json({ error: 'the body is not a Kling task' });
		return { noWebhookResponse: true };
	}
	if (!isTerminal(task.task_status)) return { webhookResponse: { received: true, resumed: false } };

	const ids = Array.from({ length: count }, (_, itemIndex) => externalId(query[EXECUTION]!, query[BATCH]!, itemIndex));
	const { tasks, failures } = await queryTasks(this, ids, CALLBACK_QUERY_POLICY);
	// Resume only on a complete picture: an unanswered task is not a missing one.
	if (failures.size > 0) throw failures.values().next().value;
	if ([...tasks.values()].some((entry) => !isTerminal(entry.task_status))) return { webhookResponse: { received: true, resumed: false } };

	const download = this.getNodeParameter('downloadImages', true) as boolean;
	const options = this.getNodeParameter('options', {}) as IDataObject;
	// Answer before downloading: the sender's timeout is undocumented.
	if (download) response.status(200).json({ received: true, resumed: true });
	const outputs = await mapSettled(count, 4, async (itemIndex) => await taskToItems(this, itemIndex, ids[itemIndex], tasks.get(ids[itemIndex]), options, download));
	const items = outputs.flatMap((result, itemIndex) =>
		result.status === 'fulfilled'
			? result.value
			: [
					{
						json: { wait_status: 'completed', task_id: tasks.get(ids[itemIndex])?.task_id, external_task_id: ids[itemIndex], error: (result.reason as Error).message },
						pairedItem: { item: itemIndex },
					},
				],
	);
	return download ? { noWebhookResponse: true, workflowData: [items] } : { workflowData: [items] };
}
