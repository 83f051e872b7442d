import type { IBinaryData, IDataObject, IExecuteFunctions, IWebhookFunctions } from 'n8n-workflow';

import { redactUrl } from '../errors';
import { detectImageFormat, HEADER_BYTES, readImageHeader } from '../imageHeader';
import type { KlingResultImage, KlingTask } from '../task';
import { assertHttpUrl } from '../validationError';
import { KlingFailure } from './failure';
import { requestFailure } from './request';
import type { RequestPolicy } from './retry';
import { pastDeadline, settle, withRetries } from './retry';
import type { StreamResponse } from './stream';
import { deadlineSignal, readStream, untilAborted } from './stream';

/** Result images are PNG or JPEG of a few MB; anything far larger is not an image we asked for. */
export const MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024;

/**
 * Reads a URL's body, stopping at `maxBytes`: with `atLimit: 'fail'` a larger body is an error
 * (result downloads), with `'truncate'` the first bytes are enough (reading an image header), and
 * `enough` may stop sooner. The Request Timeout is a deadline for the whole download. No
 * credentials are sent: result URLs are public CDN links, and a user's image URL is not Kling's.
 * Messages show the URL's origin and path only (see redactUrl): a signed link's query or a
 * `user:pass@` stays out of them.
 */
export async function fetchBytes(
	ctx: IExecuteFunctions | IWebhookFunctions,
	url: string,
	options: {
		maxBytes: number;
		atLimit: 'fail' | 'truncate';
		field: string;
		policy: RequestPolicy;
		enough?: (bytes: Buffer) => boolean;
		/**
		 * false: a redirect is refused, not followed (a URL nothing vouches for could lead anywhere).
		 */
		followRedirects?: boolean;
	},
): Promise<{ bytes: Buffer; contentType?: string }> {
	assertHttpUrl(url, options.field);
	const shown = redactUrl(url);
	const { policy } = options;
	return await withRetries(async () => {
		const deadline = deadlineSignal(policy.timeoutMs, policy.signal);
		const sent = ctx.helpers.httpRequest({
			url,
			encoding: 'stream',
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
			timeout: policy.timeoutMs,
			abortSignal: deadline,
			disableFollowRedirect: options.followRedirects === false,
			headers: options.atLimit === 'truncate' ? { Range: `bytes=0-${options.maxBytes - 1}` } : {},
		}) as Promise<StreamResponse>;
		const outcome = await settle(
			async () => await untilAborted(sent, deadline, (late) => late.body.destroy()),
		);
		if (!outcome.ok)
			throw requestFailure(outcome.error, url, deadline, policy, `The download of ${shown}`);
		const response = outcome.value;
		if (
			options.followRedirects === false &&
			response.statusCode >= 300 &&
			response.statusCode < 400
		) {
			response.body.destroy();
			throw new KlingFailure(
				'redirect',
				`Downloading ${shown} answered HTTP ${response.statusCode}, a redirect, ` +
					'which was not followed',
				undefined,
				response.statusCode,
			);
		}
		if (response.statusCode >= 400) {
			response.body.destroy();
			throw new KlingFailure(
				'http',
				`Downloading ${shown} answered HTTP ${response.statusCode}`,
				undefined,
				response.statusCode,
			);
		}
		const read = await readStream(response.body, {
			signal: deadline,
			maxBytes: options.maxBytes,
			atLimit: options.atLimit,
			enough: options.enough,
		});
		if (read.overLimit)
			throw new KlingFailure(
				'http',
				`${shown} is larger than the download limit of ${options.maxBytes} bytes (the Max ` +
					`Download Size option)`,
			);
		if (read.aborted)
			throw requestFailure(undefined, url, deadline, policy, `The download of ${shown}`);
		if (read.interrupted)
			throw new KlingFailure('network', `The download of ${shown} was interrupted`);
		const contentType =
			typeof response.headers['content-type'] === 'string'
				? response.headers['content-type']
				: undefined;
		return { bytes: read.bytes, contentType };
	}, policy);
}

export interface DownloadedImage {
	index: number;
	url: string;
	width?: number;
	height?: number;
	binary: IBinaryData;
}

/**
 * Downloads every result image of a finished task as n8n binary data, named
 * `<task_id>_<index>.<ext>` with the MIME type read from the bytes (CDNs often say
 * application/octet-stream).
 */
export async function downloadTaskImages(
	ctx: IExecuteFunctions | IWebhookFunctions,
	task: KlingTask,
	policy: RequestPolicy,
	maxBytes = MAX_DOWNLOAD_BYTES,
	followRedirects = true,
): Promise<DownloadedImage[]> {
	const images: KlingResultImage[] = task.task_result?.images ?? [];
	const downloaded: DownloadedImage[] = [];
	for (const image of images) {
		// One download may end past the deadline; none starts after it.
		if (downloaded.length > 0 && pastDeadline(policy))
			throw new KlingFailure(
				'network',
				`${downloaded.length} of ${images.length} images were downloaded before the deadline`,
			);
		const { bytes, contentType } = await fetchBytes(ctx, image.url, {
			maxBytes,
			atLimit: 'fail',
			field: 'task_result.images.url',
			policy,
			followRedirects,
		});
		const format = detectImageFormat(bytes);
		const mimeType =
			format === 'png'
				? 'image/png'
				: format === 'jpeg'
					? 'image/jpeg'
					: contentType?.split(';')[0].trim() || 'application/octet-stream';
		const extension = format === 'jpeg' ? 'jpg' : (format ?? 'bin');
		const fileName = `${task.task_id}_${image.index}.${extension}`;
		let size: { width?: number; height?: number } = {};
		try {
			size = readImageHeader(bytes);
		} catch {
			// Not a PNG/JPEG header: still hand the bytes over, without dimensions.
		}
		const binary = await ctx.helpers.prepareBinaryData(bytes, fileName, mimeType);
		downloaded.push({
			index: image.index,
			url: image.url,
			width: size.width,
			height: size.height,
			binary,
		});
	}
	return downloaded;
}

/**
 * Each result image's URL and size, read from its first bytes: what an agent's tool answers instead
 * of binary.
 */
export async function readTaskImageSizes(
	ctx: IExecuteFunctions | IWebhookFunctions,
	task: KlingTask,
	policy: RequestPolicy,
): Promise<IDataObject[]> {
	const described: IDataObject[] = [];
	for (const image of task.task_result?.images ?? []) {
		const head = await fetchBytes(ctx, image.url, {
			maxBytes: HEADER_BYTES,
			atLimit: 'truncate',
			field: 'task_result.images.url',
			policy,
		});
		let size: IDataObject = {};
		try {
			const info = readImageHeader(head.bytes);
			size = { width: info.width, height: info.height, mime_type: info.mimeType };
		} catch {
			// A header past the first bytes or not PNG/JPEG: the URL is still the result.
		}
		described.push({ index: image.index, url: image.url, ...size });
	}
	return described;
}
