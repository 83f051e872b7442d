import { createHmac, randomUUID } from 'node:crypto';
import type { CallbackDelivery, CallbackMode, CallbackShape, KlingTaskData } from './types';

/**
 * Standard Webhooks signature: HMAC-SHA256 of `${id}.${timestamp}.${rawBody}` keyed by the
 * base64-decoded part of `whsec_<base64>`, answered as `v1,<base64>`.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export function signStandardWebhook(
	secret: string,
	id: string,
	timestamp: number | string,
	rawBody: string,
): string {
	const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
	const digest = createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest('base64');
	return `v1,${digest}`;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const DELIVERY_TIMEOUT_MS = 5000;

/**
 * Posts task snapshots to `callback_url` on each status change, one task's deliveries in order,
 * duplicated or reordered on request. Failures are recorded, never thrown.
 */
export class CallbackSender {
	readonly deliveries: CallbackDelivery[] = [];
	private chains = new Map<string, Promise<void>>();
	private heldProcessing = new Map<string, KlingTaskData>();
	private inFlight = new Set<AbortController>();
	private generation = 0;

	/** Which body the deliveries carry; switchable while running (see SimulatorModes). */
	shape: CallbackShape = 'legacy';

	constructor(
		private readonly secret: string | undefined,
		private readonly mode: CallbackMode,
	) {}

	/** The console's test callback: new-style, `status: submitted`, naming no real task. */
	async sendTest(url: string): Promise<CallbackDelivery> {
		const now = Date.now();
		const body = {
			id: `test_${randomUUID().replace(/-/g, '')}`,
			status: 'submitted',
			external_id: '',
			outputs: [],
			created_at: now,
			updated_at: now,
		};
		const snapshot: KlingTaskData = {
			task_id: body.id,
			task_status: 'submitted',
			task_status_msg: '',
			task_info: { external_task_id: '' },
			final_unit_deduction: '0',
			watermark_info: { enabled: false },
			created_at: now,
			updated_at: now,
		};
		const count = this.deliveries.length;
		await this.deliver(url, this.sign(snapshot, JSON.stringify(body)));
		return this.deliveries[count];
	}

	statusChanged(url: string, snapshot: KlingTaskData): void {
		const taskId = snapshot.task_id;
		// outOfOrder: hold "processing" back and send it after the terminal delivery.
		if (this.mode === 'outOfOrder' && snapshot.task_status === 'processing') {
			this.heldProcessing.set(taskId, snapshot);
			return;
		}
		const snapshots = [snapshot];
		const held = this.heldProcessing.get(taskId);
		if (held && (snapshot.task_status === 'succeed' || snapshot.task_status === 'failed')) {
			snapshots.push(held);
			this.heldProcessing.delete(taskId);
		}
		const copies = this.mode === 'duplicate' ? 2 : 1;
		let chain = this.chains.get(taskId) ?? Promise.resolve();
		for (const body of snapshots) {
			const message = this.prepare(body);
			for (let copy = 0; copy < copies; copy++)
				chain = chain.then(() => this.deliver(url, message));
		}
		this.chains.set(taskId, chain);
	}

	/** Forgets pending work; late answers from before the clear are not recorded. */
	clear(): void {
		this.abortInFlight();
		this.chains.clear();
		this.heldProcessing.clear();
		this.deliveries.length = 0;
	}

	/** Cancels deliveries under way; their outcome is not recorded. */
	abortInFlight(): void {
		this.generation++;
		for (const controller of this.inFlight) controller.abort();
		this.inFlight.clear();
	}

	/** Id, timestamp and signature are fixed per message, so a duplicate is byte-identical. */
	private prepare(body: KlingTaskData): Omit<CallbackDelivery, 'url' | 'status' | 'at'> {
		return this.sign(body, JSON.stringify(this.shape === 'new' ? newStyleTask(body) : body));
	}

	private sign(
		body: KlingTaskData,
		rawBody: string,
	): Omit<CallbackDelivery, 'url' | 'status' | 'at'> {
		const headers: Record<string, string> = { 'content-type': 'application/json' };
		if (this.secret) {
			const id = `msg_${randomUUID().replace(/-/g, '')}`;
			const timestamp = String(Math.floor(Date.now() / 1000));
			headers['webhook-id'] = id;
			headers['webhook-timestamp'] = timestamp;
			headers['webhook-signature'] = signStandardWebhook(this.secret, id, timestamp, rawBody);
		}
		return { body, rawBody, headers };
	}

	private async deliver(
		url: string,
		message: Omit<CallbackDelivery, 'url' | 'status' | 'at'>,
	): Promise<void> {
		const generation = this.generation;
		const record = (status: number | 'error', error?: string) => {
			if (generation === this.generation)
				this.deliveries.push({ url, status, ...message, at: Date.now(), error });
		};
		if (!isLocalUrl(url))
			return record('error', 'the simulator delivers callbacks only to 127.0.0.1 or localhost');

		const controller = new AbortController();
		const timer = setTimeout(() => controller.abort(), DELIVERY_TIMEOUT_MS);
		this.inFlight.add(controller);
		try {
			const response = await fetch(url, {
				method: 'POST',
				headers: message.headers,
				body: message.rawBody,
				signal: controller.signal,
			});
			await response.arrayBuffer().catch(() => undefined);
			record(response.status);
		} catch (error) {
			record('error', (error as Error).message);
		} finally {
			clearTimeout(timer);
			this.inFlight.delete(controller);
		}
	}
}

/** A task in the newer callback shape: `id`, `status` ('succeeded'), `external_id`, `outputs`, `billing`. */
export function newStyleTask(task: KlingTaskData): Record<string, unknown> {
	const units = Number(task.final_unit_deduction);
	return {
		id: task.task_id,
		status: task.task_status === 'succeed' ? 'succeeded' : task.task_status,
		status_msg: task.task_status_msg,
		external_id: task.task_info.external_task_id,
		created_at: task.created_at,
		updated_at: task.updated_at,
		watermark_info: { ...task.watermark_info },
		outputs: (task.task_result?.images ?? []).map((image) => ({ ...image })),
		final_unit_deduction: task.final_unit_deduction,
		// The newer answers also say what was taken from a prepaid balance (here: none).
		final_balance_deduction: '0',
		billing: { units, currency: 'unit' },
	};
}

function isLocalUrl(url: string): boolean {
	try {
		return LOCAL_HOSTS.has(new URL(url).hostname);
	} catch {
		return false;
	}
}
