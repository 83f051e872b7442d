import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { nothingToRegister } from '../shared/webhookLifecycle';
import * as getTask from './actions/getTask.operation';
import * as listTasks from './actions/listTasks.operation';
import { router } from './actions/router';
import * as submit from './actions/submit.operation';
import * as submitAndWait from './actions/submitAndWait';
import { resumeOnCallback } from './actions/submitAndWait/resume';

export class KlingExpand implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Kling Expand',
		name: 'klingExpand',
		icon: { light: 'file:../../icons/kling.svg', dark: 'file:../../icons/kling.dark.svg' },
		group: ['transform'],
		// 1.1: new nodes default to the smallest canvas for a target aspect ratio (Canvas Area);
		// version 1 nodes keep the area multiplier they were saved with.
		version: [1, 1.1],
		// One string literal, as n8n's lint rules read it; the backslash only continues it on the next
		// line.
		subtitle:
			'={{ { submit: "Submit", submitAndWait: "Submit and Wait", getTask: "Get Task", \
listTasks: "List Tasks" }[$parameter["operation"]] }}',
		description: 'Expand (outpaint) images with Kling AI, directly or through CometAPI',
		defaults: { name: 'Kling Expand' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		// A dry run sends nothing, so it needs no credential.
		credentials: [
			{ name: 'klingApi', required: true, displayOptions: { hide: { dryRun: [true] } } },
		],
		// The resume webhook of Submit and Wait's callback mode. Its path is the node's id, as n8n's
		// send-and-wait nodes do: n8n resumes the node whose restart webhook path equals the resume
		// URL's suffix, so the URL handed to Kling (which ends in this id) opens no other node's wait.
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				path: '={{ $nodeId }}',
				restartWebhook: true,
				isFullPath: true,
			},
		],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Get Task',
						value: 'getTask',
						action: 'Get an expansion task',
						description: 'Fetch one task and its result images',
					},
					{
						name: 'List Tasks',
						value: 'listTasks',
						action: 'List expansion tasks',
						description: 'Fetch tasks page by page, newest first',
					},
					{
						name: 'Submit',
						value: 'submit',
						action: 'Submit an expansion task',
						description: 'Start expanding an image and return the task ID at once',
					},
					{
						name: 'Submit and Wait',
						value: 'submitAndWait',
						action: 'Expand an image and wait for the result',
						description: 'Start expanding an image, wait until it is done, and download the result',
					},
				],
				default: 'submitAndWait',
			},
			...submitAndWait.description,
			...submit.description,
			...getTask.description,
			...listTasks.description,
		],
	};

	/**
	 * Never run for a resume webhook; declared because n8n's scanner asks it of every node with
	 * webhooks.
	 */
	webhookMethods = { default: nothingToRegister };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return await resumeOnCallback.call(this);
	}
}
