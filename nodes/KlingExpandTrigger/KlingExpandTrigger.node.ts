import type {
	IDataObject,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { downloadOptions } from '../KlingExpand/actions/descriptions';
import { downloadTaskImages, imagesOutputFrom, imagesToItems } from '../KlingExpand/helpers/binary';
import { normaliseTask, TASK_STATUSES, isTerminal } from '../KlingExpand/helpers/task';
import { nothingToRegister } from '../KlingExpand/helpers/webhookLifecycle';
import { DEFAULT_POLICY } from '../KlingExpand/transport';
import { rememberDelivery, safeEqual, verifyStandardWebhook } from './helpers/verifyCallback';

/** Header or query parameter that carries the shared token (for CometAPI deliveries, which we cannot sign-check). */
const TOKEN_HEADER = 'x-kling-token';

/**
 * Deliveries this process has started a run for, scoped by workflow and node, bounded. n8n saves static data
 * only once webhook() returns, which with Download Images is after the download, long after we answered; a
 * repeat arriving in between would not find the delivery in static data yet.
 */
let startedInProcess: string[] = [];

export class KlingExpandTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Kling Expand Trigger',
		name: 'klingExpandTrigger',
		icon: { light: 'file:../../icons/kling.svg', dark: 'file:../../icons/kling.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{ ($parameter["statuses"] || []).join(", ") }}',
		description: 'Starts the workflow when Kling reports an image expansion task',
		defaults: { name: 'Kling Expand Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'klingApi', required: true, displayOptions: { show: { verifySignature: [true] } } }],
		webhooks: [{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'kling-expand' }],
		properties: [
			{
				displayName:
					'Paste this node\'s Production URL (above) into the Callback URL option of a Kling Expand node. Kling then reports every status change of those tasks here. Add ?token=… to the URL when you set a Shared Token.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Statuses',
				name: 'statuses',
				type: 'multiOptions',
				options: TASK_STATUSES.map((status) => ({ name: status[0].toUpperCase() + status.slice(1), value: status })),
				default: ['succeed', 'failed'],
				description: 'Which task statuses start the workflow; other deliveries are acknowledged and ignored',
			},
			{
				displayName: 'Verify Kling Signature',
				name: 'verifySignature',
				type: 'boolean',
				default: true,
				description:
					'Whether to accept only callbacks signed with the Callback Signing Secret of the credential (Kling direct). Turn off for CometAPI deliveries and use a Shared Token instead.',
			},
			{
				displayName: 'Shared Token',
				name: 'sharedToken',
				type: 'string',
				typeOptions: { password: true },
				default: '',
				description: `When set, a callback must carry this token in the URL (?token=…) or the ${TOKEN_HEADER} header`,
			},
			{
				displayName: 'Download Images',
				name: 'downloadImages',
				type: 'boolean',
				default: false,
				description: 'Whether to download the result images of a succeeded task as binary data',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add Option',
				default: {},
				displayOptions: { show: { downloadImages: [true] } },
				options: downloadOptions,
			},
		],
	};

	/** Kling has nothing to register: the callback URL travels with each task. */
	webhookMethods = { default: nothingToRegister };

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const request = this.getRequestObject();
		const response = this.getResponseObject();
		const refuse = (status: number, reason: string): IWebhookResponseData => {
			this.logger.warn(`Kling Expand Trigger refused a callback (HTTP ${status}): ${reason}`);
			response.status(status).json({ error: reason });
			return { noWebhookResponse: true };
		};
		const rawBody: Buffer = (request as unknown as { rawBody?: Buffer }).rawBody ?? Buffer.from(JSON.stringify(request.body ?? {}));
		const header = (name: string) => {
			const value = request.headers[name];
			return Array.isArray(value) ? value.join(' ') : value;
		};

		const token = this.getNodeParameter('sharedToken', '') as string;
		if (token && !safeEqual(token, String(request.query?.token ?? header(TOKEN_HEADER) ?? ''))) {
			return refuse(401, 'the shared token is missing or wrong');
		}
		if (this.getNodeParameter('verifySignature', true)) {
			const credentials = await this.getCredentials('klingApi');
			const verdict = verifyStandardWebhook(
				String(credentials.webhookSecret ?? ''),
				{ id: header('webhook-id'), timestamp: header('webhook-timestamp'), signature: header('webhook-signature') },
				rawBody,
			);
			if (!verdict.valid) return refuse(401, `signature check failed: ${verdict.reason}`);
		}

		let parsed: unknown;
		try {
			parsed = JSON.parse(rawBody.toString('utf8'));
		} catch {
			return refuse(400, 'the body is not JSON');
		}
		const task = normaliseTask((parsed as IDataObject)?.data ?? parsed);
		if (!task) return refuse(400, 'the body is not a Kling task (task_id and task_status are required)');

		const statuses = this.getNodeParameter('statuses', ['succeed', 'failed']) as string[];
		if (!statuses.includes(task.task_status)) return { webhookResponse: { received: true, started: false, reason: 'status not selected' } };

		// Duplicates (same delivery id, or a status already seen) and stale deliveries after the end start nothing.
		const staticData = this.getWorkflowStaticData('node');
		const saved = Array.isArray(staticData.seenDeliveries) ? (staticData.seenDeliveries as string[]) : [];
		const keys = [`${task.task_id}:${task.task_status}`];
		const deliveryId = header('webhook-id');
		if (deliveryId) keys.push(`id:${deliveryId}`);
		const scope = `${this.getWorkflow().id ?? ''}/${this.getNode().id}/`;
		const startedHere = (key: string) => startedInProcess.includes(scope + key);
		const seen = (key: string) => saved.includes(key) || startedHere(key);
		const stale = !isTerminal(task.task_status) && (seen(`${task.task_id}:succeed`) || seen(`${task.task_id}:failed`));
		const remembered = rememberDelivery(saved, keys);
		if (remembered.duplicate || keys.some(startedHere) || stale) return { webhookResponse: { received: true, started: false, reason: 'duplicate' } };
		staticData.seenDeliveries = remembered.seen;
		startedInProcess = rememberDelivery(startedInProcess, keys.map((key) => scope + key)).seen;

		const json = task as unknown as IDataObject;
		if (!this.getNodeParameter('downloadImages', false) || task.task_status !== 'succeed') {
			return { workflowData: [[{ json }]] };
		}
		// Answer before downloading: the sender's timeout is undocumented.
		response.status(200).json({ received: true, started: true });
		const output = imagesOutputFrom(this.getNodeParameter('options', {}) as IDataObject);
		try {
			const images = await downloadTaskImages(this, task, DEFAULT_POLICY, output.maxBytes);
			return { noWebhookResponse: true, workflowData: [imagesToItems(json, images, output)] };
		} catch (error) {
			// Kling already has its 200 and will not deliver again: the task still starts the workflow, with the reason.
			const reason = error instanceof Error ? error.message : String(error);
			this.logger.warn(`Kling Expand Trigger could not download the images of task ${task.task_id}: ${reason}`);
			return { noWebhookResponse: true, workflowData: [[{ json: { ...json, download_error: reason } }]] };
		}
	}
}
