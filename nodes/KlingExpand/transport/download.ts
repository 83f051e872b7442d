import type { IExecuteFunctions, IWebhookFunctions } from 'n8n-workflow';

import { assertHttpUrl } from '../helpers/validation';
import { KlingFailure } from './failure';
import type { RequestPolicy } from './index';
import { networkFailure, settle, withRetries } from './index';

/** What `encoding: 'stream'` answers with: a Node readable stream (typed by shape; shipped code imports no node:stream). */
interface ByteStream extends AsyncIterable<Buffer | Uint8Array> {
	destroy(): void;
}

/** Result images are PNG or JPEG of a few MB; anything far larger is not an image we asked for. */
export const MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024;

/**
 * Reads a URL's body, stopping at `maxBytes`: with `atLimit: 'fail'` a larger body is an error (result
 * downloads), with `'truncate'` the first bytes are enough (reading an image header). No credentials are
 * sent: result URLs are public CDN links, and a user's image URL is not Kling's.
 */
export async function fetchBytes(
	ctx: IExecuteFunctions | IWebhookFunctions,
	url: string,
	options: { maxBytes: number; atLimit: 'fail' | 'truncate'; field: string; policy: RequestPolicy },
): Promise<{ bytes: Buffer; contentType?: string }> {
	assertHttpUrl(url, options.field);
	return await withRetries(async () => {
		const outcome = await settle(
			async () =>
				(await ctx.helpers.httpRequest({
					url,
					encoding: 'stream',
					returnFullResponse: true,
					ignoreHttpStatusErrors: true,
					timeout: options.policy.timeoutMs,
					abortSignal: options.policy.signal,
					headers: options.atLimit === 'truncate' ? { Range: `bytes=0-${options.maxBytes - 1}` } : {},
				})) as { statusCode: number; headers: Record<string, unknown>; body: ByteStream },
		);
		if (!outcome.ok) throw networkFailure(outcome.error, `Could not download ${url}`);
		const response = outcome.value;
		if (response.statusCode >= 400) {
			response.body.destroy();
			throw new KlingFailure('http', `Downloading ${url} answered HTTP ${response.statusCode}`, undefined, response.statusCode);
		}
		const bytes = await readAtMost(response.body, options.maxBytes, options.atLimit, url);
		const contentType = typeof response.headers['content-type'] === 'string' ? response.headers['content-type'] : undefined;
		return { bytes, contentType };
	}, options.policy);
}

async function readAtMost(stream: ByteStream, maxBytes: number, atLimit: 'fail' | 'truncate', url: string): Promise<Buffer> {
	const chunks: Buffer[] = [];
	let length = 0;
	let tooLarge = false;
	const read = await settle(async () => {
		for await (const chunk of stream) {
			const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
			chunks.push(buffer);
			length += buffer.length;
			tooLarge = atLimit === 'fail' && length > maxBytes;
			if (tooLarge || (atLimit === 'truncate' && length >= maxBytes)) break;
		}
	});
	stream.destroy();
	if (tooLarge) throw new KlingFailure('http', `${url} is larger than the download limit of ${maxBytes} bytes (the Max Download Size option)`);
	if (!read.ok) throw new KlingFailure('network', `The download of ${url} was interrupted`);
	return Buffer.concat(chunks, length).subarray(0, maxBytes);
}
