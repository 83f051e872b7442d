import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';

import { withDefaults } from '../../../shared/descriptions';
import { ATTEMPTS } from '../../../shared/kling';
import { taskOutputItems } from '../../../shared/output';
import type { KlingTask } from '../../../shared/task';
import { isTerminal, normaliseTask } from '../../../shared/task';
import type { RequestPolicy } from '../../../shared/transport/retry';
import { DEFAULT_POLICY } from '../../../shared/transport/retry';
import { mapSettled } from '../../helpers/concurrency';
import { claimedBatch, resumeKey, verifyBatch } from './resumeUrl';
import { checkBatch } from './batchCheck';
import { probeBatch } from './probe';
import { batchExternalIds } from '../../tasks/createOnce';
import { withoutFingerprint } from '../../tasks/reuse';
import { CREATE_DEFAULTS } from '../descriptions';
import type { ResumedItem, WaitingItemField } from './waitingItems';

/**
 * The webhook half of Submit and Wait's callback mode (the execute half is
 * callback.ts). webhook() runs on each callback, on the main (or webhook)
 * process and without the input items. It verifies the signature against n8n's own execution id
 * before anything else (401, no provider request), ignores tasks that are not this batch's and
 * non-terminal callbacks (no request), and otherwise probes the batch (probe.ts) until
 * the first unfinished task, one probe at a time per batch (batchCheck.ts). The batch resumes, and
 * its images are downloaded, once.
 */

/**
 * Kling is waiting for the answer to its callback: a few quick tries, not the node's minute of
 * backoff. If they all fail, the callback gets an error, and the wait's timeout still brings every
 * task out by name.
 */
const CALLBACK_QUERY_POLICY: RequestPolicy = {
	attempts: ATTEMPTS.callback,
	retryDelayMs: 500,
	timeoutMs: 10_000,
};

/** An item this webhook emits, in n8n's item type. */
const resumedJson = (item: ResumedItem) => item as unknown as IDataObject;

/**
 * The task as an output item: downloaded images when asked, an error item for a failed or lost
 * task.
 */
async function taskToItems(
	ctx: IWebhookFunctions,
	itemIndex: number,
	externalTaskId: string,
	task: KlingTask | undefined,
	options: IDataObject,
	download: boolean,
	policy: RequestPolicy,
): Promise<INodeExecutionData[]> {
	const paired = (items: INodeExecutionData[]) =>
		items.map((item) => ({ ...item, pairedItem: { item: itemIndex } }));
	if (!task) {
		// The refusal finish() wrote on the waiting item (n8n drops the run that waited, and its
		// errors).
		const refusal = waitingItemField(ctx, itemIndex, 'error');
		const description = waitingItemField(ctx, itemIndex, 'description');
		return paired([
			{
				json: resumedJson({
					wait_status: 'not_submitted',
					external_task_id: externalTaskId,
					error:
						typeof refusal === 'string'
							? refusal
							: `Kling has no task ${externalTaskId}: item ${itemIndex} was not submitted`,
					...(typeof description === 'string' ? { description } : {}),
				}),
			},
		]);
	}
	return paired(await endedTaskItems(ctx, task, { download, options, policy }));
}

/**
 * An ended task as callback mode outputs it, whether the webhook resumed the run or every task
 * ended before it slept: an error item for a failed task (a resumed run cannot raise the node's
 * error), otherwise the task with its images.
 */
export async function endedTaskItems(
	ctx: IExecuteFunctions | IWebhookFunctions,
	task: KlingTask,
	request: { download: boolean; options: IDataObject; policy: RequestPolicy },
): Promise<INodeExecutionData[]> {
	if (task.task_status === 'failed') {
		const error = `Kling task ${task.task_id} failed: ${task.task_status_msg || 'no reason given'}`;
		return [{ json: resumedJson({ ...task, wait_status: 'completed', error }) }];
	}
	return await taskOutputItems(
		ctx,
		resumedJson({ ...task, wait_status: 'completed' }),
		task,
		request,
	);
}

function answer(ctx: IWebhookFunctions, status: number, body: IDataObject): IWebhookResponseData {
	ctx.getResponseObject().status(status).json(body);
	return { noWebhookResponse: true };
}

/** An expression over the waiting node's input (what finish() wrote); undefined when it cannot be read. */
function evaluateWaiting(ctx: IWebhookFunctions, expression: string, itemIndex: number): unknown {
	try {
		return ctx.evaluateExpression(expression, itemIndex);
	} catch {
		return undefined;
	}
}

/**
 * A field of the waiting node's input item, as finish() marked it before the execution slept (see
 * waitingItems.ts); undefined when there is no such item.
 */
function waitingItemField(
	ctx: IWebhookFunctions,
	itemIndex: number,
	field: WaitingItemField,
): unknown {
	return evaluateWaiting(ctx, `{{ $json[${JSON.stringify(field)}] }}`, itemIndex);
}

/** One field of every waiting item, in item order: one expression for the whole batch. */
function waitingColumn(
	ctx: IWebhookFunctions,
	field: WaitingItemField,
	count: number,
): unknown[] | undefined {
	const values = evaluateWaiting(ctx, `{{ $input.all().map((item) => item.json.${field}) }}`, 0);
	return Array.isArray(values) && values.length === count ? values : undefined;
}

/**
 * When Kling created each waiting item's task (finish() recorded it), in item order. Empty when it
 * cannot be read; the probe then goes by item index.
 */
function waitingCreatedAt(ctx: IWebhookFunctions, count: number): Array<number | undefined> {
	return (waitingColumn(ctx, 'created_at', count) ?? []).map((value) =>
		typeof value === 'number' ? value : undefined,
	);
}

/**
 * How the resumed run downloads: no try starts after the wait's deadline (finish() wrote it), and
 * each is cut at the node's Request Timeout, so the node ends by its Timeout plus one Request
 * Timeout, as in poll mode.
 */
function downloadPolicy(ctx: IWebhookFunctions, options: IDataObject): RequestPolicy {
	const { requestTimeout } = withDefaults(CREATE_DEFAULTS, options);
	const deadlineAt = waitingItemField(ctx, 0, 'wait_deadline');
	return {
		...DEFAULT_POLICY,
		timeoutMs: requestTimeout * 1000,
		...(typeof deadlineAt === 'number' ? { deadlineAt } : {}),
	};
}

/**
 * Runs on each callback to the resume URL: answers, and resumes the execution once the whole batch
 * has ended.
 */
export async function resumeOnCallback(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = this.getRequestObject();
	const response = this.getResponseObject();
	const claimed = claimedBatch(request.query as Record<string, unknown>);
	if (!claimed) return answer(this, 400, { error: 'not a Kling Expand resume URL' });
	const { batchId, itemCount: count, origin } = claimed;
	// The execution is n8n's (its resume URL's signature covers the path); the batch identity is
	// ours.
	const executionId = String(this.getExecutionId());
	const key = resumeKey(await this.getCredentials('klingApi'));
	if (
		!key ||
		claimed.claimedExecutionId !== executionId ||
		!verifyBatch(key, { executionId, batchId, itemCount: count, origin }, claimed.signature)
	) {
		return answer(this, 401, {
			error: 'the resume URL was altered: its batch signature does not match',
		});
	}
	const task = normaliseTask((request.body as IDataObject)?.data ?? request.body);
	if (!task) return answer(this, 400, { error: 'the body is not a Kling task' });
	const generatedIds = batchExternalIds(origin ?? executionId, batchId, count);
	const own =
		task.external_task_id === undefined
			? -1
			: generatedIds.indexOf(withoutFingerprint(task.external_task_id));
	// The body is only a hint (anyone holding the URL can post one): what comes out is read from
	// Kling.
	if (own === -1)
		return {
			webhookResponse: {
				received: true,
				resumed: false,
				ignored: 'the task is not one of this batch',
			},
		};
	// The ids of this wait's tasks, as finish() wrote them on the waiting items: with the Reuse
	// option they end in the input's fingerprint, or are a reused task's. n8n keeps one resume token
	// per execution, so a URL from an earlier wait of this execution (a loop, another callback-mode
	// node) still verifies: these ids tell that wait's callbacks apart.
	const waiting = waitingColumn(this, 'external_task_id', count);
	const ids = waiting?.every((id): id is string => typeof id === 'string') ? waiting : undefined;
	if (!ids || ids[own] !== task.external_task_id)
		return {
			webhookResponse: {
				received: true,
				resumed: false,
				ignored: 'the batch is not the one this execution is waiting for',
			},
		};
	if (!isTerminal(task.task_status)) return { webhookResponse: { received: true, resumed: false } };

	// Read only by a callback that probes: those that join a check under way cost nothing more.
	let createdAt: Array<number | undefined> | undefined;
	// The lookup form learnt by one probe saves the next probes of this callback their requests.
	const lookups = {};
	const check = await checkBatch(`${executionId}/${batchId}`, own, async (ended) => {
		createdAt ??= waitingCreatedAt(this, count);
		return await probeBatch(this, ids, own, CALLBACK_QUERY_POLICY, { createdAt, ended, lookups });
	});
	if (!check.resume) return { webhookResponse: { received: true, resumed: false } };
	const tasks = check.tasks;

	const download = this.getNodeParameter('downloadImages', true) as boolean;
	const options = this.getNodeParameter('options', {}) as IDataObject;
	const policy = downloadPolicy(this, options);
	// Answer before downloading: the sender's timeout is undocumented.
	if (download) response.status(200).json({ received: true, resumed: true });
	const outputs = await mapSettled(
		count,
		4,
		async (itemIndex) =>
			await taskToItems(
				this,
				itemIndex,
				ids[itemIndex],
				tasks[itemIndex],
				options,
				download,
				policy,
			),
	);
	const output = outputs.flatMap((result, itemIndex) =>
		result.status === 'fulfilled'
			? result.value
			: [
					{
						json: resumedJson({
							wait_status: 'completed',
							task_id: tasks[itemIndex]?.task_id,
							external_task_id: ids[itemIndex],
							error: (result.reason as Error).message,
						}),
						pairedItem: { item: itemIndex },
					},
				],
	);
	return download
		? { noWebhookResponse: true, workflowData: [output] }
		: { workflowData: [output], webhookResponse: { received: true, resumed: true } };
}
