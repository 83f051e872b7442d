import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import type { Batch, ItemRun } from './batch';
import { prepareCreate } from './create';

/** Callback mode writes these when the run is real: the resume URL and its batch's ids. */
const SET_AT_RUN_TIME = '(set by Callback (Resume) mode when the run is real)';

/**
 * Dry Run on Submit and Submit and Wait: the same reading and checks as a real run (image,
 * expansion, prompt, n), then the request it would send as output, field for field (the image
 * bytes summarised). No request goes to Kling and no credential is read.
 */
export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	_run: ItemRun,
	batch: Batch,
): Promise<INodeExecutionData[]> {
	const operation = this.getNodeParameter('operation', itemIndex) as string;
	const callbackMode =
		operation === 'submitAndWait' &&
		this.getNodeParameter('waitMode', itemIndex, 'poll') === 'callback';
	const prepared = await prepareCreate(this, itemIndex, batch);
	const request = prepared.preview();
	if (callbackMode) {
		request.callback_url = SET_AT_RUN_TIME;
		request.external_task_id = SET_AT_RUN_TIME;
	}
	return [
		{
			json: {
				dry_run: true,
				message:
					'Dry run: nothing was sent to Kling. `request` is the create this item would send, ' +
					'`expansion` the canvas it would make.',
				request,
				expansion: { ...prepared.expansion },
			} as unknown as IDataObject,
		},
	];
}
