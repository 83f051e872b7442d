import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authErrorCode, SIMULATOR_DEFAULT_KEYS, type AcceptedCredentials } from './auth';
import { CallbackSender } from './callbacks';
import { httpStatusForCode, KlingError } from './errors';
import { FaultPlan, type ChosenFault } from './faults';
import { LOGIN_PAGE, matchRoute, type Route } from './routes';
import { publicTaskData, TaskBoard } from './tasks';
import { validateCreateBody } from './validation';
import type {
	ApiSurface,
	KlingTaskData,
	Fault,
	RandomFaultOptions,
	Simulator,
	SimulatorModes,
	SimulatorOptions,
	SimulatorStats,
	SimTask,
	TrickleRecord,
} from './types';

interface Answer {
	status: number;
	body: string | Buffer;
	contentType: string;
	/** For a redirect. */
	location?: string;
	/** The Kling code of an error answer, so 1303s can be counted. */
	code?: number;
}

type Counters = Omit<SimulatorStats, 'faultsInjected'>;
type ApiRoute = Extract<Route, { kind: 'api' }>;

const DEFAULT_TASK_DURATION_MS = 300;
const MAX_PAGE_NUM = 1000;
const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 30;

/** Starts a Kling (and CometAPI) stand-in on 127.0.0.1. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
	const simulator = new KlingSimulator(options);
	await simulator.listen(options.port ?? 0);
	return simulator;
}

class KlingSimulator implements Simulator {
	url = '';
	readonly requests: Simulator['requests'] = [];
	readonly trickles: TrickleRecord[] = [];
	private readonly server: Server;
	private readonly credentials: AcceptedCredentials;
	private readonly faults = new FaultPlan();
	private readonly callbacks: CallbackSender;
	private readonly board: TaskBoard;
	private readonly delays = new Set<NodeJS.Timeout>();
	private failureRule: {
		message: string;
		match?: (body: Record<string, unknown>) => boolean;
	} | null = null;
	private counters: Counters = emptyCounters();
	private modes: SimulatorModes;

	constructor(private readonly options: SimulatorOptions) {
		this.modes = this.initialModes();
		this.credentials = {
			apiKeys: options.apiKeys ?? [SIMULATOR_DEFAULT_KEYS.apiKey],
			accessKeys: options.accessKeys ?? [
				{
					accessKey: SIMULATOR_DEFAULT_KEYS.accessKey,
					secretKey: SIMULATOR_DEFAULT_KEYS.secretKey,
				},
			],
			cometKeys: options.cometKeys ?? [SIMULATOR_DEFAULT_KEYS.cometKey],
		};
		this.callbacks = new CallbackSender(options.webhookSecret, options.callbackMode ?? 'normal');
		this.callbacks.shape = this.modes.callbackShape;
		const duration = options.taskDurationMs ?? DEFAULT_TASK_DURATION_MS;
		this.board = new TaskBoard({
			durationFor: (task) => (typeof duration === 'function' ? duration(task) : duration),
			resultUrl: (taskId, index, watermarked) =>
				`${this.url}/results/${encodeURIComponent(taskId)}/${index}${watermarked ? '-watermark' : ''}.png`,
			statusChanged: (task, callbackUrl) => {
				if (callbackUrl) this.callbacks.statusChanged(callbackUrl, publicTaskData(task));
			},
		});
		this.server = createServer((request, response) => {
			this.handle(request, response).catch((error: Error) => {
				if (response.headersSent) response.destroy();
				else this.send(response, klingFailure(5000, `Simulator error: ${error.message}`));
			});
		});
	}

	get tasks(): Simulator['tasks'] {
		return this.board.tasks;
	}

	get callbackDeliveries(): Simulator['callbackDeliveries'] {
		return this.callbacks.deliveries;
	}

	async listen(port: number): Promise<void> {
		await new Promise<void>((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(port, '127.0.0.1', () => resolve());
		});
		this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
	}

	acceptedCreates(): number {
		return this.counters.accepted;
	}

	stats(): SimulatorStats {
		return { ...this.counters, faultsInjected: this.faults.injected };
	}

	injectFault(fault: Fault): void {
		this.faults.inject(fault);
	}

	setRandomFaults(options: RandomFaultOptions | null): void {
		this.faults.setRandom(options);
	}

	setModes(modes: Partial<SimulatorModes>): void {
		this.modes = { ...this.modes, ...modes };
		this.callbacks.shape = this.modes.callbackShape;
	}

	async sendTestCallback(url: string): Promise<Simulator['callbackDeliveries'][number]> {
		return await this.callbacks.sendTest(url);
	}

	private initialModes(): SimulatorModes {
		return {
			externalIdLookup: this.options.externalIdLookup ?? 'path',
			callbackShape: this.options.callbackShape ?? 'legacy',
			imageListLagMs: this.options.imageListLagMs ?? 0,
		};
	}

	seedUnrelatedTasks(count: number): void {
		this.board.seedEnded(count);
	}

	failTasksWith(message: string | null, match?: (body: Record<string, unknown>) => boolean): void {
		this.failureRule = message === null ? null : { message, match };
	}

	reset(): void {
		this.requests.length = 0;
		this.board.clear();
		this.faults.clear();
		this.callbacks.clear();
		this.failureRule = null;
		this.counters = emptyCounters();
		this.trickles.length = 0;
		this.setModes(this.initialModes());
	}

	async close(): Promise<void> {
		this.board.clear();
		this.callbacks.abortInFlight();
		for (const timer of this.delays) clearTimeout(timer);
		const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
		this.server.closeAllConnections();
		await closed;
	}

	/** Record, route, authenticate, then apply a fault before or after the real handling. */
	private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const body = parseJson(await readBody(request));
		const method = request.method ?? 'GET';
		const url = new URL(request.url ?? '/', 'http://simulator');
		this.requests.push({
			method,
			path: request.url ?? '/',
			headers: request.headers,
			body,
			at: Date.now(),
		});

		const route = matchRoute(method, url.pathname);
		if (route.kind === 'notFound') return this.send(response, klingFailure(route.code));
		if (route.kind === 'page') return this.send(response, loginPage());
		if (route.kind === 'result') {
			const resultFault = this.faults.take('result');
			// An expired or removed result: the CDN's 404 or 403, whatever the image.
			if (resultFault?.kind === 'code')
				return this.send(response, answerForFault(resultFault, this.url)!);
			const answer = await this.resultAnswer(route);
			return resultFault?.kind === 'trickle'
				? this.trickle(request, response, answer, resultFault.bytesPerSecond)
				: this.send(response, answer);
		}
		if (route.operation === 'create') this.counters.creates++;
		if (route.operation === 'query') this.counters.queries++;
		if (route.operation === 'list') this.counters.lists++;

		const authCode = authErrorCode(request.headers.authorization, route.surface, this.credentials);
		if (authCode !== null) return this.send(response, klingFailure(authCode));

		const fault = this.faults.take(route.operation);
		if (fault?.kind === 'drop') return void request.socket.destroy();
		const faultAnswer = fault && answerForFault(fault, this.url);
		if (faultAnswer) return this.send(response, faultAnswer);

		const answer = await this.answer(route, body, url.searchParams).catch(failureAnswer);
		if (fault?.kind === 'slow') await this.delay(fault.delayMs);
		if (fault?.kind === 'dropAfterAccept') return void request.socket.destroy();
		if (fault?.kind === 'trickle')
			return this.trickle(request, response, answer, fault.bytesPerSecond);
		this.send(response, answer);
	}

	private async answer(route: ApiRoute, body: unknown, params: URLSearchParams): Promise<Answer> {
		switch (route.operation) {
			case 'create':
				return this.create(body, route.surface);
			case 'query':
				return this.query(route.taskId ?? '', params);
			case 'list':
				return this.list(params);
			case 'models':
				return jsonAnswer(200, {
					object: 'list',
					data: [{ id: 'kling-image-expand', object: 'model', created: 0, owned_by: 'kling' }],
				});
		}
	}

	private async create(body: unknown, surface: ApiSurface): Promise<Answer> {
		const request = await validateCreateBody(body);
		// No await from here on: the uniqueness and slot checks and the booking happen as one step.
		if (this.board.isExternalIdTaken(request.externalTaskId)) {
			throw new KlingError(
				1201,
				`external_task_id "${request.externalTaskId}" already exists; it must be unique per account`,
			);
		}
		const slots = this.board.heldSlots() + request.n;
		const limit = this.options.concurrencyLimit ?? Infinity;
		if (slots > limit) {
			throw new KlingError(
				1303,
				`Concurrency limit exceeded: ${slots} slots requested, limit ${limit}`,
			);
		}
		const createBody = body as Record<string, unknown>;
		const rule = this.failureRule;
		const failMessage = rule && (rule.match?.(createBody) ?? true) ? rule.message : undefined;
		const task = this.board.accept(request, createBody, surface, failMessage);
		this.counters.accepted++;
		this.counters.peakSlots = Math.max(this.counters.peakSlots, slots);
		const { task_id, task_status, task_info, created_at, updated_at } = task;
		return klingSuccess({
			task_id,
			task_status,
			task_info: { ...task_info },
			created_at,
			updated_at,
		});
	}

	/** The path takes a task_id; an external_task_id too, in the way the lookup mode says. */
	private query(id: string, params: URLSearchParams): Answer {
		const lookup = this.modes.externalIdLookup;
		const flagged = params.get('external_task_id') === 'true';
		const task =
			lookup === 'path'
				? this.board.find(id)
				: lookup === 'pathFlag' && flagged
					? this.board.findByExternalId(id)
					: this.board.tasks.get(id);
		if (!task) return klingFailure(1203, `Task ${id} does not exist`);
		const data = this.asQueried(task);
		return klingSuccess(this.options.queryDataAsArray ? [data] : data);
	}

	private list(params: URLSearchParams): Answer {
		const externalId = params.get('external_task_id');
		if (this.modes.externalIdLookup === 'collection' && externalId !== null) {
			const task = this.board.findByExternalId(externalId);
			return klingSuccess(task ? [this.asQueried(task)] : []);
		}
		const pageNum = readPageParam(params, 'pageNum', 1, MAX_PAGE_NUM);
		const pageSize = readPageParam(params, 'pageSize', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
		const start = (pageNum - 1) * pageSize;
		return klingSuccess(
			this.board
				.newestFirst()
				.slice(start, start + pageSize)
				.map((task) => this.asQueried(task)),
		);
	}

	/**
	 * The task as queries see it: with `queryLagMs`, an end that recent is not visible yet; with
	 * `imageListLagMs`, a success that recent lists no images yet.
	 */
	private asQueried(task: SimTask): KlingTaskData {
		const data = publicTaskData(task);
		const sinceEnd = task.completedAt === undefined ? Infinity : Date.now() - task.completedAt;
		const lagMs = this.options.queryLagMs ?? 0;
		if (lagMs > 0 && sinceEnd < lagMs) {
			return { ...data, task_status: 'processing', task_status_msg: '', task_result: undefined };
		}
		if (task.task_status === 'succeed' && sinceEnd < this.modes.imageListLagMs)
			return { ...data, task_result: undefined };
		return data;
	}

	private async resultAnswer(route: Extract<Route, { kind: 'result' }>): Promise<Answer> {
		const image = this.board.resultImage(route.taskId, route.index, route.watermarked);
		if (!image) return klingFailure(1203, 'Result image does not exist');
		try {
			return { status: 200, body: await image, contentType: 'image/png' };
		} catch (error) {
			return klingFailure(
				5000,
				`Simulator could not expand the image: ${(error as Error).message}`,
			);
		}
	}

	private send(response: ServerResponse, answer: Answer): void {
		if (answer.code === 1303) this.counters.rejected1303++;
		if (response.destroyed) return;
		response.writeHead(answer.status, {
			'content-type': answer.contentType,
			'content-length': Buffer.byteLength(answer.body),
			...(answer.location && { location: answer.location }),
		});
		response.end(answer.body);
	}

	/** Sends the answer's headers at once and its body `bytesPerSecond` bytes a second, until done or the client hangs up. */
	private trickle(
		request: IncomingMessage,
		response: ServerResponse,
		answer: Answer,
		bytesPerSecond: number,
	): void {
		const record: TrickleRecord = {
			path: request.url ?? '/',
			startedAt: Date.now(),
			bytesSent: 0,
			cutByClient: false,
		};
		this.trickles.push(record);
		const body = Buffer.from(answer.body);
		response.writeHead(answer.status, {
			'content-type': answer.contentType,
			'content-length': body.length,
		});
		const timer = setInterval(
			() => {
				if (response.destroyed || record.bytesSent >= body.length) return;
				response.write(body.subarray(record.bytesSent, record.bytesSent + 1));
				record.bytesSent++;
				if (record.bytesSent >= body.length) response.end();
			},
			1000 / Math.max(0.001, bytesPerSecond),
		);
		response.on('close', () => {
			clearInterval(timer);
			record.closedAt = Date.now();
			record.cutByClient = record.bytesSent < body.length;
		});
	}

	private delay(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.delays.delete(timer);
				resolve();
			}, ms);
			this.delays.add(timer);
		});
	}
}

function emptyCounters(): Counters {
	return { creates: 0, accepted: 0, queries: 0, lists: 0, rejected1303: 0, peakSlots: 0 };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => resolve(Buffer.concat(chunks)));
		request.on('error', reject);
	});
}

function parseJson(raw: Buffer): unknown {
	if (raw.length === 0) return undefined;
	try {
		return JSON.parse(raw.toString('utf8')) as unknown;
	} catch {
		return undefined;
	}
}

function readPageParam(
	params: URLSearchParams,
	name: string,
	fallback: number,
	max: number,
): number {
	const text = params.get(name);
	if (text === null || text === '') return fallback;
	const value = Number(text);
	if (!Number.isInteger(value) || value < 1 || value > max) {
		throw new KlingError(1201, `${name} is ${text}; it must be an integer between 1 and ${max}`);
	}
	return value;
}

/** Faults answered instead of handling the request; `slow`, `dropAfterAccept` and `trickle` act after it. */
function answerForFault(fault: ChosenFault, baseUrl: string): Answer | undefined {
	switch (fault.kind) {
		case 'redirect':
			return {
				status: 301,
				body: '<html><body>Moved</body></html>',
				contentType: 'text/html; charset=utf-8',
				location: `${baseUrl.replace('://', '://admin:hunter2@')}${LOGIN_PAGE}?next=%2Fv1&session=sim-session-token`,
			};
		case 'code':
			return klingFailure(fault.code, fault.message, fault.httpStatus);
		case 'malformed':
			return {
				status: 200,
				body: '{"code":0,"message":"SUCCEED","data":{"task_id":',
				contentType: 'application/json',
			};
		case 'cometNull404':
			return jsonAnswer(200, { code: null, message: '404' });
		default:
			return undefined;
	}
}

/** What a wrong base URL often leads to: a sign-in page, HTML with HTTP 200. */
function loginPage(): Answer {
	return {
		status: 200,
		body: '<!doctype html><html><head><title>Sign in</title></head><body><form>Sign in</form></body></html>',
		contentType: 'text/html; charset=utf-8',
	};
}

function jsonAnswer(status: number, value: unknown): Answer {
	return { status, body: JSON.stringify(value), contentType: 'application/json; charset=utf-8' };
}

function klingSuccess(data: unknown): Answer {
	return jsonAnswer(200, { code: 0, message: 'SUCCEED', request_id: randomUUID(), data });
}

function klingFailure(code: number, message?: string, httpStatus?: number): Answer {
	const error = new KlingError(code, message);
	const answer = jsonAnswer(httpStatus ?? httpStatusForCode(code), {
		code,
		message: error.message,
		request_id: randomUUID(),
		data: null,
	});
	return { ...answer, code };
}

function failureAnswer(error: unknown): Answer {
	if (error instanceof KlingError) return klingFailure(error.code, error.message);
	return klingFailure(5000, `Simulator error: ${(error as Error).message}`);
}
