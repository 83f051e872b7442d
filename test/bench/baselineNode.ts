import type {
	IDataObject,
	IExecuteFunctions,
	IHttpRequestOptions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	INodeTypes,
} from 'n8n-workflow';
import { NodeConnectionTypes, sleep, Workflow } from 'n8n-workflow';

import { loadPackage, type WorkflowSpec } from '../harness/engine';

export const BASELINE_NODE_TYPE = 'bench.baselinePollLoop';
export const BASELINE_NODE = 'Baseline Poll Loop';

/**
 * What n8n users build today without this package, as one node (n8n-nodes-base cannot be installed
 * here): Loop Over Items (batch size B) → HTTP Request POST create → Wait → HTTP Request GET query →
 * If every task of the batch ended, else back to Wait → HTTP Request download (response format File)
 * → next batch. HTTP Request sends one request per item of the batch, all at once, and the loop back
 * to Wait carries every item of the batch, so each check queries all B tasks.
 * Same credential and request helper as the Kling Expand node; no retries, as HTTP Request's default.
 */
class BaselinePollLoop implements INodeType {
	description: INodeTypeDescription = {
		displayName: BASELINE_NODE,
		name: 'baselinePollLoop',
		group: ['transform'],
		version: 1,
		description: 'Create, then a fixed-interval poll loop, one item at a time',
		defaults: { name: BASELINE_NODE },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'klingApi', required: true }],
		properties: [
			{ displayName: 'Wait (Seconds)', name: 'interval', type: 'number', default: 5 },
			{ displayName: 'Download Images', name: 'downloadImages', type: 'boolean', default: true },
			{ displayName: 'Expansion Ratio', name: 'ratio', type: 'number', default: 0.1 },
			{ displayName: 'Batch Size', name: 'batchSize', type: 'number', default: 1 },
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const intervalMs = (this.getNodeParameter('interval', 0) as number) * 1000;
		const download = this.getNodeParameter('downloadImages', 0) as boolean;
		const ratio = this.getNodeParameter('ratio', 0) as number;
		const { baseUrl } = (await this.getCredentials('klingApi')) as { baseUrl: string };
		const endpoint = `${baseUrl}/v1/images/editing/expand`;
		const runId = Math.random().toString(36).slice(2, 10);
		const batchSize = Math.max(1, this.getNodeParameter('batchSize', 0, 1) as number);
		const count = this.getInputData().length;
		const output: INodeExecutionData[] = [];
		const runItem = async (itemIndex: number, task: IDataObject): Promise<INodeExecutionData> => {
			const item: INodeExecutionData = { json: task, pairedItem: { item: itemIndex } };
			const images = ((task.task_result as IDataObject | undefined)?.images ?? []) as Array<{
				url: string;
			}>;
			if (download && images[0]) {
				const bytes = (await this.helpers.httpRequest({
					url: images[0].url,
					encoding: 'arraybuffer',
				})) as ArrayBuffer;
				item.binary = {
					data: await this.helpers.prepareBinaryData(
						Buffer.from(bytes),
						`${task.task_id as string}.png`,
						'image/png',
					),
				};
			}
			return item;
		};
		const ended = (task: IDataObject) =>
			task.task_status === 'succeed' || task.task_status === 'failed';
		for (let first = 0; first < count; first += batchSize) {
			const indexes = Array.from(
				{ length: Math.min(batchSize, count - first) },
				(_, offset) => first + offset,
			);
			const created = await Promise.all(
				indexes.map(async (itemIndex) => {
					const image = (await this.helpers.getBinaryDataBuffer(itemIndex, 'data')).toString(
						'base64',
					);
					const body = {
						image,
						up_expansion_ratio: ratio,
						down_expansion_ratio: ratio,
						left_expansion_ratio: ratio,
						right_expansion_ratio: ratio,
						n: 1,
						external_task_id: `baseline-${runId}-${itemIndex}`,
					};
					return await klingData(this, { method: 'POST', url: endpoint, body });
				}),
			);
			let tasks: IDataObject[];
			do {
				await sleep(intervalMs);
				tasks = await Promise.all(
					created.map(
						async (task) =>
							await klingData(this, {
								method: 'GET',
								url: `${endpoint}/${task.task_id as string}`,
							}),
					),
				);
			} while (!tasks.every(ended));
			output.push(
				...(await Promise.all(
					tasks.map(async (task, offset) => await runItem(indexes[offset], task)),
				)),
			);
		}
		return [output];
	}
}

/** One HTTP Request node call with the predefined Kling credential; a non-zero code stops the run, as it would there. */
async function klingData(
	ctx: IExecuteFunctions,
	request: IHttpRequestOptions,
): Promise<IDataObject> {
	const answer = (await ctx.helpers.httpRequestWithAuthentication.call(ctx, 'klingApi', {
		...request,
		json: true,
	})) as { code: number; message: string; data: IDataObject };
	if (answer.code !== 0) throw new Error(`Kling answered ${answer.code}: ${answer.message}`);
	return answer.data;
}

const baseline = new BaselinePollLoop();

/** A one-node workflow running the baseline, with the package's credential available to it. */
export function baselineWorkflowSpec(parameters: IDataObject): WorkflowSpec {
	return {
		nodes: [
			{
				id: 'baseline',
				name: BASELINE_NODE,
				type: BASELINE_NODE_TYPE,
				typeVersion: 1,
				position: [0, 0],
				parameters: parameters as never,
				credentials: { klingApi: { id: '1', name: 'Kling' } },
			},
		],
		connections: {},
	};
}

/** A Workflow whose node types are the package's plus the baseline, for runWorkflow's `workflow` option. */
export async function baselineWorkflow(spec: WorkflowSpec): Promise<Workflow> {
	const { nodeTypes } = await loadPackage();
	const types: INodeTypes = {
		getByName: (name) => (name === BASELINE_NODE_TYPE ? baseline : nodeTypes.getByName(name)),
		getByNameAndVersion: (name, version) =>
			name === BASELINE_NODE_TYPE ? baseline : nodeTypes.getByNameAndVersion(name, version),
		getKnownTypes: () => ({}),
	};
	return new Workflow({
		id: 'bench-baseline',
		name: 'baseline',
		nodes: spec.nodes,
		connections: spec.connections,
		nodeTypes: types,
		active: false,
		staticData: {},
	});
}
