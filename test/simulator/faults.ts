import { createSeededRandom } from './random';
import type { ApiOperation, Fault, RandomFaultOptions } from './types';

/** A fault ready to apply, defaults filled in. */
export interface ChosenFault {
	kind: Fault['kind'];
	code: number;
	httpStatus?: number;
	message?: string;
	delayMs: number;
	bytesPerSecond: number;
}

const DEFAULT_FAULT_CODE = 5000;
const DEFAULT_DELAY_MS = 1000;
const DEFAULT_TRICKLE_RATE = 3;
const RETRYABLE_CODES = [1302, 1303, 5000, 5001, 5002];

/** Injected one-shot faults first (in order), then seeded random ones. */
export class FaultPlan {
	injected = 0;
	private queue: { fault: Fault; remaining: number }[] = [];
	private random: { options: RandomFaultOptions; next: () => number } | null = null;

	inject(fault: Fault): void {
		this.queue.push({ fault, remaining: fault.times ?? 1 });
	}

	setRandom(options: RandomFaultOptions | null): void {
		this.random = options && { options, next: createSeededRandom(options.seed ?? 1) };
	}

	clear(): void {
		this.queue = [];
		this.random = null;
		this.injected = 0;
	}

	/** The fault for this request, if any; consumes it. */
	take(operation: ApiOperation | 'result'): ChosenFault | undefined {
		const chosen = this.takeQueued(operation) ?? this.drawRandom(operation);
		if (chosen) this.injected++;
		return chosen;
	}

	private takeQueued(operation: ApiOperation | 'result'): ChosenFault | undefined {
		const index = this.queue.findIndex(
			({ fault }) => (fault.on === 'any' && operation !== 'result') || fault.on === operation,
		);
		if (index < 0) return undefined;
		const entry = this.queue[index];
		if (--entry.remaining <= 0) this.queue.splice(index, 1);
		const { kind, code, httpStatus, message, delayMs, bytesPerSecond } = entry.fault;
		return {
			kind,
			code: code ?? DEFAULT_FAULT_CODE,
			httpStatus,
			message,
			delayMs: delayMs ?? DEFAULT_DELAY_MS,
			bytesPerSecond: bytesPerSecond ?? DEFAULT_TRICKLE_RATE,
		};
	}

	private drawRandom(operation: ApiOperation | 'result'): ChosenFault | undefined {
		if (!this.random || operation === 'models' || operation === 'result') return undefined;
		const { options, next } = this.random;
		if (!options.on.includes(operation) || options.kinds.length === 0 || next() >= options.rate)
			return undefined;
		const codes = options.codes?.length ? options.codes : RETRYABLE_CODES;
		return {
			kind: options.kinds[Math.floor(next() * options.kinds.length)],
			code: codes[Math.floor(next() * codes.length)],
			delayMs: options.delayMs ?? DEFAULT_DELAY_MS,
			bytesPerSecond: DEFAULT_TRICKLE_RATE,
		};
	}
}
