import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ExpansionSummary } from '../helpers/expansionPlan';
import { planExpansion } from '../helpers/expansionPlan';
import { validateOptions } from '../helpers/validation';
import type { CreateRequest } from '../tasks/createOnce';
import { claimExternalId, generatedExternalId, submitOnce } from '../tasks/createOnce';
import type { Batch, ItemRun } from './batch';
import { createFields, createOptions } from './descriptions';
import { expansionRequestOf } from './expansion';
import { readImageInput } from './imageInput';

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

export interface PreparedCreate extends CreateRequest {
	expansion: ExpansionSummary;
	/** Image slots the task will hold at Kling. */
	images: number;
	/** The body as a dry run shows it: every field as sent, the image bytes summarised. */
	preview: () => IDataObject;
}

interface CreateOptions {
	callbackUrl?: string;
	externalTaskId?: string;
	watermark?: boolean;
}

/**
 * Everything that can be checked without paying: image, ratios, prompt, n, and that no other item
 * of the run uses the same external id. Throws before any create.
 */
export async function prepareCreate(
	ctx: IExecuteFunctions,
	itemIndex: number,
	batch: Batch,
	callbackUrl?: string,
	externalTaskId?: string,
): Promise<PreparedCreate> {
	const options = ctx.getNodeParameter('options', itemIndex, {}) as CreateOptions;
	const prompt = ctx.getNodeParameter('prompt', itemIndex, '') as string;
	const images = ctx.getNodeParameter('numberOfImages', itemIndex, 1) as number;
	const callback = callbackUrl ?? options.callbackUrl?.trim();
	validateOptions({ prompt, n: images, callbackUrl: callback });
	const image = await readImageInput(ctx, itemIndex, batch.policy);
	const { ratios, summary } = planExpansion(image.info, expansionRequestOf(ctx, itemIndex));
	// Every create carries an external id, so a create whose answer was lost can be looked up, not
	// re-sent.
	const userExternalId = externalTaskId === undefined ? options.externalTaskId?.trim() : undefined;
	const externalId = externalTaskId ?? (userExternalId || generatedExternalId(ctx, itemIndex));
	claimExternalId(batch, externalId, itemIndex);
	const bodyWith = (imageValue: string) => {
		const body: IDataObject & { external_task_id: string } = {
			image: imageValue,
			up_expansion_ratio: ratios.up,
			down_expansion_ratio: ratios.down,
			left_expansion_ratio: ratios.left,
			right_expansion_ratio: ratios.right,
			n: images,
			external_task_id: externalId,
		};
		if (prompt) body.prompt = prompt;
		if (options.watermark) body.watermark_info = { enabled: true };
		if (callback) body.callback_url = callback;
		return body;
	};
	return {
		expansion: summary,
		images,
		externalTaskId: externalId,
		externalIdIsOurs: !userExternalId,
		body: async () => bodyWith(await image.bodyValue()),
		preview: () => bodyWith(image.preview),
	};
}

export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	run: ItemRun,
	batch: Batch,
): Promise<INodeExecutionData[]> {
	const prepared = await prepareCreate(this, itemIndex, batch);
	const slots = await batch.slots.acquire(prepared.images);
	try {
		const task = await submitOnce(this, prepared, run, batch.policy);
		return [{ json: { ...task, expansion: { ...prepared.expansion } } as unknown as IDataObject }];
	} finally {
		batch.slots.release(slots);
	}
}
