/**
 * Kling's documented limits and names, and how many times the node sends one request: one home,
 * read by validation, ratios, the fields' bounds and descriptions, list/lookup/probe, redaction and
 * the resume-URL key. A limit written in two files drifts; a secret field missed in one list
 * silently stops redaction or breaks callback mode.
 * @see https://app.klingai.com/global/dev/document-api/apiReference/model/imageExpansion
 */

/**
 * The input image: at most 10 MB, both sides at least 300 px, aspect between 1:2.5 and 2.5:1
 * (documented). Kling documents no largest size; a header can claim any (a PNG 100000 px square in
 * 60 bytes), so the node sets one: 16384 px a side, the largest that common decoders and GPUs
 * take, and 89,478,485 pixels, the decompression-bomb threshold of Pillow, which image services
 * commonly run on. A photo of 10 MB is well inside both.
 */
export const IMAGE_LIMITS = {
	maxBytes: 10 * 1024 * 1024,
	minSide: 300,
	maxAspect: 2.5,
	maxSide: 16384,
	maxPixels: 89_478_485,
};

/** The prompt, in characters. */
export const MAX_PROMPT_LENGTH = 2500;

/** Images one task makes (`n`). */
export const MAX_IMAGES_PER_TASK = 9;

/** Each side's expansion ratio, in units of the original height (up, down) or width (left, right). */
export const MAX_RATIO = 2;

/** The expanded canvas, as a multiple of the original area. */
export const MAX_AREA_MULTIPLIER = 3;

/**
 * A task id as a callback may carry it. Kling documents neither length nor alphabet: its ids are
 * numeric strings of 18-21 digits (e.g. 867283741759111202), the console's test callback sends
 * `test_` and 32 hex digits. 128 letters, digits, `_` and `-` holds those with room to spare, and
 * keeps a trigger's remembered delivery keys (REMEMBERED_DELIVERIES of them) under 140 KB.
 */
export const TASK_ID_RULE = {
	maxLength: 128,
	pattern: /^[A-Za-z0-9_-]+$/,
	text: 'a Kling task id is 1 to 128 letters, digits, "_" or "-"',
};

/**
 * A customer-defined external_task_id, in characters. Kling documents no limit; this package's own
 * ids (`n8n-<execution>-…`) stay under 70, so 128 leaves room for ids set by hand.
 */
export const MAX_EXTERNAL_ID_LENGTH = 128;

/** How long Kling keeps a task and its result images. */
export const RESULT_RETENTION_DAYS = 30;

/**
 * How many times a task that answered `succeed` with no images listed is read again, the waits
 * doubling from the Retry Delay (1 + 2 + 4 + 8 + 16 = 31 s at the default 1 s), before the node
 * says so. Kling writes the status and the result list separately; the lag seen between its
 * callbacks and its queries is up to 2 s, so 31 s is well past it, and short enough that a billed
 * task without images is reported while the run is still being watched.
 */
export const LATE_IMAGE_READS = 5;

/** The list route's bounds: tasks per page, and the last page number. */
export const LIST_PAGE = { maxSize: 500, maxNum: 1000 };

/** How many times one request is sent before its failure is reported. */
export const ATTEMPTS = {
	/** A run's requests (create, query, download), with the node's Retry Delay between them. */
	run: 10,
	/** Requests made without a run's options: the webhooks' downloads, and any request's default. */
	standard: 8,
	/** A callback's probe: Kling is waiting for the answer, and the wait's timeout backs it up. */
	callback: 3,
	/** A periodic check: the next check asks again. */
	check: 1,
};

/**
 * The credential's fields that authenticate requests: only whoever holds the credential knows
 * them, so the resume-URL key is derived from them (in this order: changing it changes the key).
 */
export const AUTH_SECRET_FIELDS = ['secretKey', 'apiKey', 'cometApiKey', 'accessKey'] as const;

/**
 * Every credential field whose value is secret, redacted from whatever the provider answers. The
 * webhook secret is shared with the sender of callbacks, so it signs no resume URL.
 */
export const SECRET_FIELDS = [...AUTH_SECRET_FIELDS, 'webhookSecret'] as const;
