import type { IncomingHttpHeaders } from 'node:http';

/** Which door a request came through: Kling direct (no prefix) or CometAPI (`/kling/...`, `/v1/models`). */
export type ApiSurface = 'kling' | 'comet';

/** The authenticated operations; faults and statistics are keyed by them. */
export type ApiOperation = 'create' | 'query' | 'list' | 'models';

export type TaskStatus = 'submitted' | 'processing' | 'succeed' | 'failed';

export type CallbackMode = 'normal' | 'duplicate' | 'outOfOrder';

/**
 * Which body callbacks carry: Kling's legacy task (`task_id`, `task_status: succeed`, `task_result.images`)
 * or the newer one (`id`, `status: succeeded`, `outputs[]`, `external_id`, `billing`).
 */
export type CallbackShape = 'legacy' | 'new';

/**
 * Which form of external_task_id lookup the simulated provider understands:
 * - `path`: `GET …/expand/<id>` takes a task_id or an external_task_id;
 * - `pathFlag`: `GET …/expand/<id>?external_task_id=true`; the bare path takes task_ids only;
 * - `collection`: `GET …/expand?external_task_id=<id>` lists the matching task; the path takes task_ids only.
 * In every mode a form the provider does not understand answers as a real one would: 1203 on the path,
 * the unfiltered list on the collection.
 */
export type ExternalIdLookup = 'path' | 'pathFlag' | 'collection';

/** Behaviours a test can switch on a running simulator; `reset()` restores the options it started with. */
export interface SimulatorModes {
	externalIdLookup: ExternalIdLookup;
	callbackShape: CallbackShape;
	/** See SimulatorOptions.imageListLagMs. */
	imageListLagMs: number;
}

/** A trickled answer: when it began, when the connection closed, and how many body bytes went out. */
export interface TrickleRecord {
	path: string;
	startedAt: number;
	closedAt?: number;
	bytesSent: number;
	/** The client closed the connection before the whole body was sent. */
	cutByClient: boolean;
}

export interface TaskImage {
	index: number;
	url: string;
	watermark_url?: string;
}

/** The task as Kling returns it in `data` (query, list items, callbacks). */
export interface KlingTaskData {
	task_id: string;
	task_status: TaskStatus;
	task_status_msg: string;
	task_info: { external_task_id: string };
	final_unit_deduction: string;
	watermark_info: { enabled: boolean };
	created_at: number;
	updated_at: number;
	/** Present only once the task succeeded. */
	task_result?: { images: TaskImage[] };
}

export interface ImageSize {
	width: number;
	height: number;
}

/** A task as the simulator keeps it: the public fields plus what tests want to assert on. */
export interface SimTask extends KlingTaskData {
	/** ms timestamp of the move to succeed/failed. */
	completedAt?: number;
	/** The create request body as received (the image string included). */
	createBody: Record<string, unknown>;
	via: ApiSurface;
	/** Which name carried the lower ratio: the official one or CometAPI's older alias. */
	downRatioField: 'down_expansion_ratio' | 'bottom_expansion_ratio';
	n: number;
	sourceSize: ImageSize;
	/** Size of every result image (all n share it). */
	resultImageSize: ImageSize;
}

export interface RecordedRequest {
	method: string;
	/** Path with query string. */
	path: string;
	headers: IncomingHttpHeaders;
	/** Parsed JSON body, or undefined when empty or not JSON. */
	body: unknown;
	at: number;
}

export interface CallbackDelivery {
	url: string;
	status: number | 'error';
	/** The task snapshot that was sent, in legacy names whatever the shape (`rawBody` holds what went out). */
	body: KlingTaskData;
	/** The exact bytes sent, needed to check the signature. */
	rawBody: string;
	headers: Record<string, string>;
	at: number;
	error?: string;
}

/**
 * - `code`: a Kling error envelope with `code` (default 5000) and its HTTP status.
 * - `drop`: socket destroyed before anything happens (a create is NOT accepted).
 * - `dropAfterAccept`: the request is handled (a create is accepted and billed), then the socket is destroyed.
 * - `slow`: the request is handled (a create is accepted and billed), the answer is sent after `delayMs`.
 * - `malformed`: HTTP 200 with truncated JSON; a create is NOT accepted.
 * - `cometNull404`: HTTP 200 `{"code": null, "message": "404"}` as CometAPI's expand route answered; NOT accepted.
 * - `redirect`: HTTP 301 to an HTML login page on the simulator (`/login?…`), as a wrong base URL or a
 *   proxy answers; NOT accepted.
 * - `trickle`: the request is handled (a create is accepted), then the answer is sent at
 *   `bytesPerSecond` (default 3) until it ends or the client closes the connection. On `result` too.
 */
export type FaultKind =
	| 'code'
	| 'drop'
	| 'dropAfterAccept'
	| 'slow'
	| 'malformed'
	| 'cometNull404'
	| 'redirect'
	| 'trickle';

export interface Fault {
	/**
	 * `result`: the unauthenticated image downloads under /results (never matched by `any`); there
	 * `code` answers with the fault's HTTP status (an expired URL: 404 or 403) and `trickle` trickles.
	 */
	on: 'create' | 'query' | 'list' | 'result' | 'any';
	kind: FaultKind;
	/** For `kind: 'code'`; default 5000. */
	code?: number;
	/** For `kind: 'code'`: the HTTP status it comes in (Kling's pairing for the code by default; 200 = an error inside a success). */
	httpStatus?: number;
	message?: string;
	/** How many matching requests this fault hits; default 1. */
	times?: number;
	/** For `kind: 'slow'`; default 1000. */
	delayMs?: number;
	/** For `kind: 'trickle'`; default 3. */
	bytesPerSecond?: number;
}

export interface RandomFaultOptions {
	/** Probability in [0, 1] that an eligible request is faulted. */
	rate: number;
	on: ('create' | 'query' | 'list')[];
	kinds: FaultKind[];
	seed?: number;
	/** Codes drawn for `kind: 'code'`; default the retryable ones: 1302, 1303, 5000, 5001, 5002. */
	codes?: number[];
	/** For `kind: 'slow'`; default 1000. */
	delayMs?: number;
}

export interface AccessKeyPair {
	accessKey: string;
	secretKey: string;
}

export interface SimulatorOptions {
	/** Default 0 (random free port). */
	port?: number;
	/** Time from create to terminal, default 300 ms; the task turns `processing` at half of it. */
	taskDurationMs?: number | ((task: SimTask) => number);
	/** Slots per account; each task holds n slots until terminal. Default Infinity. */
	concurrencyLimit?: number;
	/** Kling direct plain API keys. Default `[SIMULATOR_DEFAULT_KEYS.apiKey]`; pass [] for none. */
	apiKeys?: string[];
	/** Kling direct access/secret key pairs for JWT HS256. Default the simulator's pair. */
	accessKeys?: AccessKeyPair[];
	/** CometAPI keys, accepted on `/kling/...` and `/v1/models` only. Default `[SIMULATOR_DEFAULT_KEYS.cometKey]`. */
	cometKeys?: string[];
	/** `whsec_<base64>`: when set, callbacks are signed Standard Webhooks style. */
	webhookSecret?: string;
	callbackMode?: CallbackMode;
	/** Answer a single-task query with `data: [task]`, as one captured Kling page shows. Default false. */
	queryDataAsArray?: boolean;
	/**
	 * Queries and lists show a task that ended less than this long ago as still `processing`, while its
	 * callback already reports the end (a read replica behind the callback sender). Default 0.
	 */
	queryLagMs?: number;
	/**
	 * Queries and lists show a task that succeeded less than this long ago as `succeed` with no
	 * images listed yet (callbacks carry them). Default 0; Infinity never lists them.
	 */
	imageListLagMs?: number;
	/** Default 'path'. */
	externalIdLookup?: ExternalIdLookup;
	/** Default 'legacy'. */
	callbackShape?: CallbackShape;
}

export interface SimulatorStats {
	creates: number;
	accepted: number;
	queries: number;
	lists: number;
	/** Every 1303 answer: real concurrency rejections and injected ones. */
	rejected1303: number;
	faultsInjected: number;
	peakSlots: number;
}

export interface Simulator {
	/** e.g. http://127.0.0.1:34567, no trailing slash. */
	url: string;
	requests: RecordedRequest[];
	tasks: Map<string, SimTask>;
	callbackDeliveries: CallbackDelivery[];
	acceptedCreates(): number;
	stats(): SimulatorStats;
	injectFault(fault: Fault): void;
	setRandomFaults(options: RandomFaultOptions | null): void;
	/** Adds `count` ended tasks of another workflow, newer than every task so far (callback-mode cost under a busy account). */
	seedUnrelatedTasks(count: number): void;
	/** Tasks created from now on whose body matches end `failed` with this `task_status_msg`; null stops it. */
	failTasksWith(message: string | null, match?: (body: Record<string, unknown>) => boolean): void;
	/** Every trickled answer so far. */
	trickles: TrickleRecord[];
	/** Switches behaviours until the next `reset()`. */
	setModes(modes: Partial<SimulatorModes>): void;
	/**
	 * Posts what the Kling console's "test callback" button sends: a signed new-style body with
	 * `status: submitted` and a task id that names no task.
	 */
	sendTestCallback(url: string): Promise<CallbackDelivery>;
	/** Clears requests, tasks, faults, failure rule, callback records, stats and modes. */
	reset(): void;
	close(): Promise<void>;
}
