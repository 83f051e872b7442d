import type {
	IDataObject,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { refuseUnverifiableTrigger } from './activation';
import {
	acknowledge,
	downloadedItems,
	emitWithoutDownload,
	presentedCallback,
	refuse,
	rememberedDeliveries,
	unlistedHostsRefusal,
	verify,
} from './callbackSteps';
import { triggerCredentials, triggerProperties } from './description';
import { deliveryKey } from './helpers/deliveries';
import { callbackSizeRefusal, parseCallbackTask } from './helpers/parseCallback';

export class KlingExpandTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Kling Expand Trigger',
		name: 'klingExpandTrigger',
		icon: { light: 'file:../../icons/kling.svg', dark: 'file:../../icons/kling.dark.svg' },
		group: ['trigger'],
		version: [1, 2],
		defaultVersion: 2,
		subtitle: '={{ ($parameter["statuses"] || []).join(", ") }}',
		// n8n's nodes panel lists this trigger and Kling Expand as one entry, under this description.
		description:
			'Expand (outpaint) images with Kling AI; the trigger starts a workflow when Kling reports ' +
			'an expansion task',
		defaults: { name: 'Kling Expand Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: triggerCredentials,
		webhooks: [
			{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'kling-expand' },
		],
		properties: triggerProperties,
	};

	webhookMethods = { default: refuseUnverifiableTrigger };

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const callback = presentedCallback(this);
		// Size first: no signature is computed over, nor JSON parsed from, a body no task fills.
		const oversized = callbackSizeRefusal(callback.rawBody.length);
		if (oversized) return refuse(this, 413, oversized);
		const verified = await verify(this, callback);
		if (!verified.valid) return refuse(this, 401, verified.reason);

		const parsed = parseCallbackTask(callback.rawBody);
		if ('refusal' in parsed) return refuse(this, 400, parsed.refusal);
		const task = parsed.task;

		const statuses = this.getNodeParameter('statuses', ['succeed', 'failed']) as string[];
		if (!statuses.includes(task.task_status)) return acknowledge('status not selected');

		const remembered = rememberedDeliveries(this);
		if (remembered.claim(task) !== 'new') return acknowledge('duplicate');

		const json = { ...task, delivery_key: deliveryKey(task) } as unknown as IDataObject;
		if (!this.getNodeParameter('downloadImages', false) || task.task_status !== 'succeed')
			return { workflowData: [[{ json }]] };
		const refusal = verified.unverified ? unlistedHostsRefusal(this, task) : undefined;
		if (refusal) return emitWithoutDownload(this, json, refusal);

		// Answer before downloading: the sender's timeout is undocumented.
		this.getResponseObject().status(200).json({ received: true, started: true });
		const workflowData = await downloadedItems(this, task, json, verified.unverified);
		remembered.saveAll();
		return { noWebhookResponse: true, workflowData: [workflowData] };
	}
}
