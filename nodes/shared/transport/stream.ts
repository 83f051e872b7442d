/**
 * Wall-clock deadlines for requests. n8n's `timeout` is an idle timeout (it fires only when the
 * connection goes silent), so a server that trickles bytes would hold a request forever; every
 * request here also runs under a deadline signal, and its body is read from a stream that the
 * deadline destroys.
 */

/**
 * What `encoding: 'stream'` answers with: a Node readable stream (typed by shape; shipped code
 * imports no node:stream).
 */
export interface ByteStream extends AsyncIterable<Buffer | Uint8Array> {
	destroy(): void;
}

export interface StreamResponse {
	statusCode: number;
	headers: Record<string, unknown>;
	body: ByteStream;
}

/** Aborts after `timeoutMs`, or when the execution is cancelled. */
export function deadlineSignal(timeoutMs: number, cancel?: AbortSignal): AbortSignal {
	const deadline = AbortSignal.timeout(Math.max(1, timeoutMs));
	return cancel ? AbortSignal.any([deadline, cancel]) : deadline;
}

/**
 * The promise's value, or a rejection as soon as `signal` aborts. A response that arrives after the
 * abort is handed to `discard`, so its socket is closed rather than left open.
 */
export async function untilAborted<T>(
	promise: Promise<T>,
	signal: AbortSignal,
	discard: (late: T) => void,
): Promise<T> {
	return await new Promise<T>((resolve, reject) => {
		const onAbort = () => reject(signal.reason);
		if (signal.aborted) onAbort();
		else signal.addEventListener('abort', onAbort, { once: true });
		promise.then(
			(value) => {
				signal.removeEventListener('abort', onAbort);
				if (signal.aborted) discard(value);
				else resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener('abort', onAbort);
				reject(error);
			},
		);
	});
}

export interface ReadOutcome {
	bytes: Buffer;
	/** The stream held more than `maxBytes` (only with `atLimit: 'fail'`). */
	overLimit: boolean;
	/** The deadline passed (or the execution was cancelled) before the body ended. */
	aborted: boolean;
	/** The stream broke for another reason (the connection dropped). */
	interrupted: boolean;
}

/**
 * Reads a body until it ends, `maxBytes` are in (`atLimit`: 'truncate' keeps them, 'fail' flags the
 * body as too large), `enough` says the bytes so far suffice, or `signal` aborts. The stream is
 * always destroyed afterwards, so no socket stays open.
 */
export async function readStream(
	stream: ByteStream,
	options: {
		signal: AbortSignal;
		maxBytes: number;
		atLimit: 'fail' | 'truncate';
		enough?: (bytes: Buffer) => boolean;
	},
): Promise<ReadOutcome> {
	const chunks: Buffer[] = [];
	let length = 0;
	let overLimit = false;
	let interrupted = false;
	const onAbort = () => stream.destroy();
	options.signal.addEventListener('abort', onAbort, { once: true });
	try {
		if (options.signal.aborted) stream.destroy();
		for await (const chunk of stream) {
			const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
			chunks.push(buffer);
			length += buffer.length;
			overLimit = options.atLimit === 'fail' && length > options.maxBytes;
			if (overLimit || length >= options.maxBytes) break;
			if (options.enough && options.enough(Buffer.concat(chunks, length))) break;
		}
	} catch {
		interrupted = true;
	} finally {
		options.signal.removeEventListener('abort', onAbort);
		stream.destroy();
	}
	const aborted = options.signal.aborted && !overLimit;
	return {
		bytes: Buffer.concat(chunks, length).subarray(0, options.maxBytes),
		overLimit,
		aborted,
		interrupted: interrupted && !aborted,
	};
}
