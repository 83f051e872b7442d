import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { defaultsOf, withDefaults } from '../../shared/descriptions';
import { LIST_PAGE } from '../../shared/kling';
import type { KlingTask } from '../../shared/task';
import { validateOptionTypes } from '../helpers/validation';
import { readListPage } from '../tasks/listPage';
import type { Batch } from './batch';

const listOptions: INodeProperties[] = [
	{
		displayName: 'Start Page',
		name: 'pageNum',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: LIST_PAGE.maxNum },
		default: 1,
		description: `The page to start from (1–${LIST_PAGE.maxNum}), newest tasks first`,
	},
	{
		displayName: 'External Task ID Starts With',
		name: 'externalTaskIdPrefix',
		type: 'string',
		default: '',
		placeholder: 'e.g. n8n-1234-',
		description:
			'Only tasks whose external_task_id starts with this. Every task an execution of this node ' +
			'created starts with n8n-<execution ID>-, so this finds them all, even after a crash.',
	},
	{
		displayName: 'Page Size',
		name: 'pageSize',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: LIST_PAGE.maxSize },
		default: 30,
		description: `Tasks asked for per request (1–${LIST_PAGE.maxSize})`,
	},
];

const LIST_DEFAULTS = defaultsOf<{
	externalTaskIdPrefix: string;
	pageNum: number;
	pageSize: number;
}>(listOptions);

const properties: INodeProperties[] = [
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: false,
		description: 'Whether to return all results or only up to a given limit',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		displayOptions: { show: { returnAll: [false] } },
		description: 'Max number of results to return',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: listOptions,
	},
];

export const description = updateDisplayOptions({ show: { operation: ['listTasks'] } }, properties);

export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	_run: unknown,
	batch: Batch,
): Promise<INodeExecutionData[]> {
	const returnAll = this.getNodeParameter('returnAll', itemIndex) as boolean;
	const limit = returnAll ? Infinity : (this.getNodeParameter('limit', itemIndex) as number);
	const given = this.getNodeParameter('options', itemIndex, {}) as Record<string, unknown>;
	validateOptionTypes(given, listOptions);
	if (!returnAll) validateOptionTypes({ limit }, properties);
	const options = withDefaults(LIST_DEFAULTS, given);
	const pageSize = Math.min(LIST_PAGE.maxSize, Math.max(1, Math.floor(options.pageSize)));
	const prefix = options.externalTaskIdPrefix.trim();
	const wanted = (task: KlingTask) => !prefix || task.external_task_id?.startsWith(prefix) === true;
	const items: INodeExecutionData[] = [];
	for (let pageNum = Math.max(1, Math.floor(options.pageNum)); items.length < limit; pageNum++) {
		const page = await readListPage(this, pageNum, batch.policy, pageSize);
		for (const task of page.tasks)
			if (wanted(task) && items.length < limit)
				items.push({ json: task as unknown as IDataObject });
		if (!page.more) break;
	}
	return items;
}
