/**
 * Runs `work` for indexes 0..count-1 with at most `limit` at once, starting them in order, and
 * settles every one (a failure does not stop the others: their tasks may already be billed).
 */
export async function mapSettled<T>(
	count: number,
	limit: number,
	work: (index: number) => Promise<T>,
): Promise<Array<PromiseSettledResult<T>>> {
	const results: Array<PromiseSettledResult<T>> = new Array(count);
	let next = 0;
	const worker = async () => {
		while (next < count) {
			const index = next++;
			try {
				results[index] = { status: 'fulfilled', value: await work(index) };
			} catch (reason) {
				results[index] = { status: 'rejected', reason };
			}
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, worker));
	return results;
}

/**
 * Kling's concurrency slots as seen from one execution: a task holds `n` slots (one per image) from
 * submit until it ends. Waiters are served first come, first served.
 */
export class SlotPool {
	private free: number;

	private readonly queue: Array<{ slots: number; grant: () => void }> = [];

	constructor(readonly capacity: number) {
		this.free = capacity;
	}

	/** How many are waiting for slots. */
	get waiting(): number {
		return this.queue.length;
	}

	/**
	 * Resolves when `slots` (capped at the capacity, so a 9-image task can run under a limit of 5)
	 * are held.
	 */
	async acquire(slots: number): Promise<number> {
		const wanted = Math.min(slots, this.capacity);
		if (this.queue.length === 0 && this.free >= wanted) {
			this.free -= wanted;
			return wanted;
		}
		await new Promise<void>((grant) => this.queue.push({ slots: wanted, grant }));
		return wanted;
	}

	release(slots: number): void {
		this.free += slots;
		while (this.queue.length > 0 && this.free >= this.queue[0].slots) {
			const waiter = this.queue.shift()!;
			this.free -= waiter.slots;
			waiter.grant();
		}
	}
}
