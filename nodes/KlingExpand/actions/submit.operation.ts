import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ExpansionRatios } from '../helpers/ratios';
import { expandedCanvasSize, parseAspectRatio, ratiosFromAspect } from '../helpers/ratios';
import { validateOptions, validateOptionTypes, validateRatios } from '../helpers/validation';
import type { CreateRequest } from '../tasks/createOnce';
import { claimExternalId, generatedExternalId, submitOnce } from '../tasks/createOnce';
import { inputFingerprint, reuseWindowMs, takeReusableTask, withFingerprint } from '../tasks/reuse';
import type { Batch, ItemRun } from './batch';
import { CREATE_OPTION_FIELDS } from './batch';
import { createFields, createOptions } from './descriptions';
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

/**
 * The geometry the node worked out, reported on every output so users see the canvas they will get.
 */
export interface ExpansionSummary extends ExpansionRatios {
	original_width: number;
	original_height: number;
	expected_width: number;
	expected_height: number;
}

export interface PreparedCreate extends CreateRequest {
	expansion: ExpansionSummary;
	/** Image slots the task will hold at Kling. */
	images: number;
}

interface CreateOptions {
	callbackUrl?: string;
	externalTaskId?: string;
	reuseWithinHours?: unknown;
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
	validateOptionTypes(options as Record<string, unknown>, CREATE_OPTION_FIELDS);
	const prompt = ctx.getNodeParameter('prompt', itemIndex, '') as string;
	const images = ctx.getNodeParameter('numberOfImages', itemIndex, 1) as number;
	const callback = callbackUrl ?? options.callbackUrl?.trim();
	validateOptions({ prompt, n: images, callbackUrl: callback });
	const image = await readImageInput(ctx, itemIndex, batch.policy);
	const { width, height } = image.info;
	const ratios: ExpansionRatios =
		ctx.getNodeParameter('expansionMode', itemIndex) === 'aspectRatio'
			? ratiosFromAspect(
					width,
					height,
					ctx.getNodeParameter('areaMultiplier', itemIndex) as number,
					parseAspectRatio(ctx.getNodeParameter('targetAspectRatio', itemIndex) as string),
				)
			: {
					up: ctx.getNodeParameter('upExpansionRatio', itemIndex) as number,
					down: ctx.getNodeParameter('downExpansionRatio', itemIndex) as number,
					left: ctx.getNodeParameter('leftExpansionRatio', itemIndex) as number,
					right: ctx.getNodeParameter('rightExpansionRatio', itemIndex) as number,
				};
	validateRatios(ratios);
	const canvas = expandedCanvasSize(width, height, ratios);
	// Every create carries an external id, so a create whose answer was lost can be looked up, not
	// re-sent.
	const userExternalId = externalTaskId === undefined ? options.externalTaskId?.trim() : undefined;
	const bodyFor = async (id: string) => {
		const body: IDataObject & { external_task_id: string } = {
			image: await image.bodyValue(),
			up_expansion_ratio: ratios.up,
			down_expansion_ratio: ratios.down,
			left_expansion_ratio: ratios.left,
			right_expansion_ratio: ratios.right,
			n: images,
			external_task_id: id,
		};
		if (prompt) body.prompt = prompt;
		if (options.watermark) body.watermark_info = { enabled: true };
		if (callback) body.callback_url = callback;
		return body;
	};
	// Reuse applies to the ids the node generates (callback mode and the user's own ids are fixed).
	const reuseMs =
		externalTaskId === undefined && !userExternalId ? reuseWindowMs(options.reuseWithinHours) : 0;
	const fingerprint = reuseMs > 0 ? inputFingerprint(await bodyFor('')) : undefined;
	const generated = () =>
		fingerprint
			? withFingerprint(generatedExternalId(ctx, itemIndex), fingerprint)
			: generatedExternalId(ctx, itemIndex);
	const externalId = externalTaskId ?? (userExternalId || generated());
	claimExternalId(batch, externalId, itemIndex);
	return {
		expansion: {
			...ratios,
			original_width: width,
			original_height: height,
			expected_width: canvas.width,
			expected_height: canvas.height,
		},
		images,
		externalTaskId: externalId,
		externalIdIsOurs: !userExternalId,
		body: async () => await bodyFor(externalId),
		...(fingerprint && {
			reuse: async () => await takeReusableTask(ctx, batch, fingerprint, reuseMs, batch.policy),
		}),
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
