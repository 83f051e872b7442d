import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality that does not reveal the expected value's length: both sides are hashed
 * first.
 */
export function safeEqual(expected: string | Buffer, actual: string | Buffer): boolean {
	const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();
	return (
		timingSafeEqual(digest(expected), digest(actual)) &&
		Buffer.from(expected).length === Buffer.from(actual).length
	);
}
