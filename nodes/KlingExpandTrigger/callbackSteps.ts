import type {
	IDataObject,
	IHookFunctions,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';

import { taskOutputItems } from '../shared/output';
import type { KlingTask } from '../shared/task';
import { DEFAULT_POLICY } from '../shared/transport/retry';
import { TOKEN_HEADER } from './description';
import { DeliveryMemory } from './helpers/deliveries';
import { originsNotAllowed, parseHostList } from './helpers/downloadHosts';
import type { PresentedCallback, VerificationPlan } from './helpers/verification';
import { checkCallback, verificationPlan } from './helpers/verification';

// The steps of the trigger's webhook() that need n8n's webhook context; the decisions themselves
// are in helpers/.

/**
 * The deliveries this process accepted, per workflow and node: the authority that n8n's
 * per-delivery static data copies are merged into.
 */
const deliveries = new DeliveryMemory();

/**
 * Runs the checks the trigger's settings call for; `unverified` when the user chose Verification:
 * None.
 */
export async function verify(
	context: IWebhookFunctions,
	callback: PresentedCallback,
): Promise<{ valid: true; unverified: boolean } | { valid: false; reason: string }> {
	const plan = configuredPlan(context);
	const secret = 'signature' in plan && plan.signature ? await signingSecret(context) : '';
	if (secret === undefined)
		return {
			valid: false,
			reason: 'signature check failed: no Kling API credential is selected on the trigger',
		};
	const verdict = checkCallback(plan, callback, secret);
	return verdict.valid
		? { valid: true, unverified: 'unverified' in plan && plan.unverified }
		: verdict;
}

/** The checks the trigger's settings call for (read the same way at activation and per callback). */
export function configuredPlan(context: IHookFunctions | IWebhookFunctions): VerificationPlan {
	return verificationPlan({
		version: context.getNode().typeVersion,
		verification: context.getNodeParameter('verification', 'signature') as string,
		verifySignature: context.getNodeParameter('verifySignature', true) as boolean,
		sharedToken: context.getNodeParameter('sharedToken', '') as string,
	});
}

/**
 * This workflow's and node's delivery keys: claimed in this process's memory, written whole to the
 * static data n8n saves after webhook() returns.
 */
export function rememberedDeliveries(context: IWebhookFunctions) {
	const staticData = context.getWorkflowStaticData('node');
	const scope = `${context.getWorkflow().id ?? ''}/${context.getNode().id}`;
	const saved = () =>
		Array.isArray(staticData.seenDeliveries) ? (staticData.seenDeliveries as string[]) : [];
	return {
		claim(task: KlingTask) {
			const claimed = deliveries.claim(scope, saved(), task);
			staticData.seenDeliveries = claimed.remembered;
			return claimed.verdict;
		},
		/**
		 * Deliveries that overlapped a download saved keys too: save the union again, whichever copy
		 * n8n writes last.
		 */
		saveAll() {
			staticData.seenDeliveries = deliveries.remembered(scope, saved());
		},
	};
}

/**
 * Why an unverified callback's images are not downloaded: some are on hosts not in Download Only
 * From Hosts.
 */
export function unlistedHostsRefusal(
	context: IWebhookFunctions,
	task: KlingTask,
): string | undefined {
	const allowed = parseHostList(context.getNodeParameter('downloadHosts', '') as string);
	const refused = originsNotAllowed(
		(task.task_result?.images ?? []).map((image) => image.url),
		allowed,
	);
	return refused.length > 0
		? `not downloaded: the callback is unverified (Verification: None) and ${refused.join(', ')} ` +
				`is not in Download Only From Hosts`
		: undefined;
}

/**
 * The callback as the checks see it: Standard Webhooks headers, the raw bytes received, the token.
 */
export function presentedCallback(context: IWebhookFunctions): PresentedCallback {
	const request = context.getRequestObject();
	const header = (name: string) => {
		const value = request.headers[name];
		return Array.isArray(value) ? value.join(' ') : value;
	};
	const rawBody: Buffer =
		(request as unknown as { rawBody?: Buffer }).rawBody ??
		Buffer.from(JSON.stringify(request.body ?? {}));
	const queryToken = request.query?.token;
	return {
		headers: {
			id: header('webhook-id'),
			timestamp: header('webhook-timestamp'),
			signature: header('webhook-signature'),
		},
		rawBody,
		token: typeof queryToken === 'string' ? queryToken : header(TOKEN_HEADER),
	};
}

/**
 * The credential's Callback Signing Secret ('' when it has none), or undefined when no credential
 * is selected.
 */
export async function signingSecret(
	context: IHookFunctions | IWebhookFunctions,
): Promise<string | undefined> {
	try {
		return String((await context.getCredentials('klingApi')).webhookSecret ?? '');
	} catch {
		return undefined;
	}
}

/**
 * Answers the sender itself, starts nothing, and writes why to n8n's log (the only place a refusal
 * is visible).
 */
export function refuse(
	context: IWebhookFunctions,
	status: number,
	reason: string,
): IWebhookResponseData {
	context.logger.warn(`Kling Expand Trigger refused a callback (HTTP ${status}): ${reason}`);
	context.getResponseObject().status(status).json({ error: reason });
	return { noWebhookResponse: true };
}

export function acknowledge(reason: string): IWebhookResponseData {
	return { webhookResponse: { received: true, started: false, reason } };
}

export function emitWithoutDownload(
	context: IWebhookFunctions,
	json: IDataObject,
	reason: string,
): IWebhookResponseData {
	context.logger.warn(
		`Kling Expand Trigger did not download the images of task ${String(json.task_id)}: ${reason}`,
	);
	return { workflowData: [[{ json: { ...json, download_error: reason } }]] };
}

/**
 * The task's items with its images as binary data; a failed download still yields the task, with
 * the reason.
 */
export async function downloadedItems(
	context: IWebhookFunctions,
	task: KlingTask,
	json: IDataObject,
	unverified: boolean,
) {
	const options = context.getNodeParameter('options', {}) as IDataObject;
	try {
		return await taskOutputItems(context, json, task, {
			download: true,
			options,
			policy: DEFAULT_POLICY,
			// A listed host's redirect could lead anywhere: unverified downloads do not follow one.
			followRedirects: !unverified,
			// The trigger may hold no credential to read the task with (Verification: None).
			rereadTask: false,
		});
	} catch (error) {
		// Kling already has its 200 and will not deliver again: the task still starts the workflow,
		// with the reason.
		const reason = error instanceof Error ? error.message : String(error);
		context.logger.warn(
			`Kling Expand Trigger could not download the images of task ${task.task_id}: ${reason}`,
		);
		return [{ json: { ...json, download_error: reason } }];
	}
}
