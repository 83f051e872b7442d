import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { downloadOptions } from '../../shared/descriptions';
import { taskOutputItems } from '../../shared/output';
import { normaliseTask } from '../../shared/task';
import { KlingFailure } from '../../shared/transport/failure';
import { klingRequest } from '../../shared/transport/request';
import { findTask } from '../tasks/lookup';
import type { Batch } from './batch';
import { requestOptions } from './descriptions';

const properties: INodeProperties[] = [
	{
		displayName: 'Find By',
		name: 'findBy',
		type: 'options',
		options: [
			{
				name: 'Task ID',
				value: 'taskId',
				description: 'The task_id Kling returned when the task was submitted',
			},
			{
				name: 'External Task ID',
				value: 'externalTaskId',
				description: 'Your own ID, given as External Task ID on submit',
			},
		],
		default: 'taskId',
	},
	{
		displayName: 'Task ID',
		name: 'taskId',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. 784512063975329862',
		description: 'The task to fetch: a task_id, or an external_task_id when Find By says so',
	},
	{
		displayName: 'Download Images',
		name: 'downloadImages',
		type: 'boolean',
		default: false,
		description: 'Whether to download the result images of a finished task as binary data',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [...requestOptions, ...downloadOptions].sort((a, b) =>
			a.displayName.localeCompare(b.displayName),
		),
	},
];

export const description = updateDisplayOptions({ show: { operation: ['getTask'] } }, properties);

export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	_run: unknown,
	batch: Batch,
): Promise<INodeExecutionData[]> {
	const id = String(this.getNodeParameter('taskId', itemIndex)).trim();
	const byExternalId = this.getNodeParameter('findBy', itemIndex, 'taskId') === 'externalTaskId';
	if (!id) {
		throw new NodeOperationError(
			this.getNode(),
			`Task ID is empty; give the ${byExternalId ? 'external_task_id' : 'task_id'} to fetch`,
			{ itemIndex },
		);
	}
	// A task_id has one query path; an external id is tried in every form the provider may understand
	// (see findTask).
	const found = byExternalId
		? await findTask(this, id, batch.policy, 'externalId', batch.lookups)
		: await klingRequest(this, { method: 'GET', path: `/${encodeURIComponent(id)}` }, batch.policy);
	if (found === undefined) {
		throw new KlingFailure(
			'api',
			`no task has external_task_id ${id} (asked as a path id, with ?external_task_id=true, and ` +
				`as a list filter)`,
			1203,
			404,
		);
	}
	const task = normaliseTask(found);
	if (!task)
		throw new KlingFailure('malformed', `The provider's answer for task ${id} is not a task`);
	const json = task as unknown as IDataObject;
	const download = this.getNodeParameter('downloadImages', itemIndex, false) as boolean;
	return await taskOutputItems(this, json, task, {
		download,
		options: this.getNodeParameter('options', itemIndex, {}) as IDataObject,
		policy: batch.policy,
	});
}
