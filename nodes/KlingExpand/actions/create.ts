import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

import type { ExpansionSummary } from '../helpers/expansionPlan';
import { planExpansion } from '../helpers/expansionPlan';
import { validateOptions, validateOptionTypes } from '../helpers/validation';
import type { Base64Value } from '../../shared/transport/jsonBody';
import { base64Text } from '../../shared/transport/jsonBody';
import type { CreateRequest } from '../tasks/createOnce';
import { claimExternalId, generatedExternalId } from '../tasks/createOnce';
import { inputFingerprint, reuseWindowMs, takeReusableTask, withFingerprint } from '../tasks/reuse';
import type { Batch } from './batch';
import { CREATE_OPTION_FIELDS } from './batch';
import { expansionRequestOf } from './expansion';
import { readImageInput } from './imageInput';

/**
 * What one create sends, for every operation that creates (Submit, and Submit and Wait in both
 * modes): the input read and checked before paying, and the body built from it.
 */

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
	const userExternalId = externalTaskId === undefined ? options.externalTaskId?.trim() : undefined;
	validateOptions({ prompt, n: images, callbackUrl: callback, externalTaskId: userExternalId });
	const image = await readImageInput(ctx, itemIndex, batch.policy);
	const { ratios, summary } = planExpansion(image.info, expansionRequestOf(ctx, itemIndex));
	// Every create carries an external id, so a create whose answer was lost can be looked up, not
	// re-sent.
	const bodyWith = (imageValue: string | Base64Value, id: string) => {
		const body: IDataObject & { external_task_id: string } = {
			image: imageValue,
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
	// Reuse applies to the ids the node generates (callback mode's too); the user's own are fixed.
	const reuseMs = userExternalId ? 0 : reuseWindowMs(options.reuseWithinHours);
	const fingerprint =
		reuseMs > 0
			? inputFingerprint(bodyWith(await base64Text(await image.bodyValue()), ''))
			: undefined;
	const generated = () => {
		const id = externalTaskId ?? generatedExternalId(ctx, itemIndex);
		return fingerprint ? withFingerprint(id, fingerprint) : id;
	};
	const externalId = userExternalId || generated();
	claimExternalId(batch, externalId, itemIndex);
	return {
		expansion: summary,
		images,
		externalTaskId: externalId,
		externalIdIsOurs: !userExternalId,
		body: async () => bodyWith(await image.bodyValue(), externalId),
		preview: () => bodyWith(image.preview, externalId),
		...(fingerprint && {
			reuse: async () => await takeReusableTask(ctx, batch, fingerprint, reuseMs),
		}),
	};
}
