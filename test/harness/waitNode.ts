import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

/** The stand-in's type name: n8n-nodes-base is not a dependency of this package. */
export const WAIT_NODE_TYPE = 'harness.waitOnWebhookCall';

/**
 * A stand-in for n8n's Wait node in "On Webhook Call" mode, for the engine harness: its restart
 * webhook has the Wait node's shape (POST, path = the "Webhook Suffix" option, empty by default), it
 * puts the execution to wait, and a call to the resume URL passes the call's body on, as an approval
 * step would. Only the parts n8n's waiting-webhook routing reads are imitated.
 */
export class WaitOnWebhookCall implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Wait (harness stand-in)',
		name: 'waitOnWebhookCall',
		group: ['organization'],
		version: 1,
		description: "Imitates n8n's Wait node, On Webhook Call",
		defaults: { name: 'Wait' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				path: '={{ $parameter["options"]["webhookSuffix"] || "" }}',
				restartWebhook: true,
			},
		],
		properties: [
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				default: {},
				options: [
					{ displayName: 'Webhook Suffix', name: 'webhookSuffix', type: 'string', default: '' },
				],
			},
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		await this.putExecutionToWait(new Date(Date.now() + 3_600_000));
		return [this.getInputData()];
	}

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return { workflowData: [[{ json: { approvedWith: this.getBodyData() } }]] };
	}
}
