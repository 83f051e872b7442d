/**
 * The labels the node's panel shows for its parameters, so an error names a field as the user sees
 * it.
 */
const FIELD_LABELS: Record<string, string> = {
	upExpansionRatio: 'Up Expansion Ratio',
	downExpansionRatio: 'Down Expansion Ratio',
	leftExpansionRatio: 'Left Expansion Ratio',
	rightExpansionRatio: 'Right Expansion Ratio',
	prompt: 'Prompt',
	numberOfImages: 'Number of Images',
	callbackUrl: 'Callback URL',
	imageBase64: 'Image (Base64)',
	imageUrl: 'Image URL',
	externalTaskId: 'External Task ID',
};

/**
 * A create request we refuse before sending (requests cost money). Plain data: the node adds itself
 * and the item index. `field` is the node parameter's name (or the binary field's); the message
 * names it by its panel label.
 */
export class ValidationError extends Error {
	constructor(
		readonly field: string,
		readonly value: unknown,
		readonly rule: string,
		/** Measurements such as "299×400 px" read better unquoted; user text is quoted. */
		quoted = typeof value === 'string',
		/** What the message says "is" the value; by default the field's panel label. */
		subject = FIELD_LABELS[field] ?? field,
	) {
		super(`${subject} is ${formatValue(value, quoted)}; ${rule}`);
	}

	/**
	 * A refusal whose sentence does not read "<field> is <value>; <rule>" (the rule is the whole
	 * message).
	 */
	static worded(field: string, value: unknown, message: string): ValidationError {
		const error = new ValidationError(field, value, message);
		error.message = message;
		return error;
	}
}

function formatValue(value: unknown, quoted: boolean): string {
	if (typeof value === 'string' && quoted)
		return value.length > 60
			? `"${value.slice(0, 57)}…" (${value.length} characters)`
			: `"${value}"`;
	return String(value);
}

/** Only http(s) URLs leave this node: no file:, data: or other schemes. */
export function assertHttpUrl(value: unknown, field: string): URL {
	let url: URL | undefined;
	try {
		url = new URL(String(value));
	} catch {
		url = undefined;
	}
	if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
		throw new ValidationError(field, value, 'it must be an http:// or https:// URL');
	}
	return url;
}
