import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { submitOnce } from '../tasks/createOnce';
import type { Batch, ItemRun } from './batch';
import { prepareCreate } from './create';
import { createFields, createOptions } from './descriptions';

const properties: INodeProperties[] = [
	...createFields,
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: createOptions,
	},
];

export const description = updateDisplayOptions({ show: { operation: ['submit'] } }, properties);

export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	run: ItemRun,
	batch: Batch,
): Promise<INodeExecutionData[]> {
	const prepared = await prepareCreate(this, itemIndex, batch);
	const slots = await batch.slots.acquire(prepared.images);
	try {
		const task = await submitOnce(this, prepared, run, batch);
		return [{ json: { ...task, expansion: { ...prepared.expansion } } as unknown as IDataObject }];
	} finally {
		batch.slots.release(slots);
	}
}
