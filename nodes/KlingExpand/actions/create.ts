import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

import type { ExpansionRatios } from '../helpers/ratios';
import { expandedCanvasSize, parseAspectRatio, ratiosFromAspect } from '../helpers/ratios';
import { validateOptions, validateRatios } from '../helpers/validation';
import type { CreateRequest } from '../tasks/createOnce';
import { claimExternalId, generatedExternalId } from '../tasks/createOnce';
import type { Batch } from './batch';
import { readImageInput } from './imageInput';

/**
 * What one create sends, for every operation that creates (Submit, and Submit and Wait in both
 * modes): the input read and checked before paying, and the body built from it.
 */

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
	const externalId = externalTaskId ?? (userExternalId || generatedExternalId(ctx, itemIndex));
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
		body: async () => {
			const body: IDataObject & { external_task_id: string } = {
				image: await image.bodyValue(),
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
		},
	};
}
