import { SIMULATOR_DEFAULT_KEYS, startSimulator } from './index';

/**
 * `npm run simulator -- [--port 8787] [--duration 3000] [--concurrency 5] [--lookup path|pathFlag|collection] [--callback-shape legacy|new]`;
 * the port may also come from KLING_SIM_PORT.
 */
async function main(): Promise<void> {
	const port =
		numberFlag('--port') ?? numberFrom(process.env.KLING_SIM_PORT, 'KLING_SIM_PORT') ?? 8787;
	const simulator = await startSimulator({
		port,
		taskDurationMs: numberFlag('--duration') ?? 3000,
		concurrencyLimit: numberFlag('--concurrency') ?? Infinity,
		webhookSecret: SIMULATOR_DEFAULT_KEYS.webhookSecret,
		externalIdLookup: choiceFlag('--lookup', ['path', 'pathFlag', 'collection'] as const),
		callbackShape: choiceFlag('--callback-shape', ['legacy', 'new'] as const),
	});
	const keys = SIMULATOR_DEFAULT_KEYS;
	console.log(
		[
			`Kling simulator listening on ${simulator.url}`,
			`  Kling direct base URL: ${simulator.url}`,
			`  CometAPI base URL:     ${simulator.url}   (routes under /kling, key check GET /v1/models)`,
			`  Kling API key:         ${keys.apiKey}`,
			`  Kling access key:      ${keys.accessKey}`,
			`  Kling secret key:      ${keys.secretKey}`,
			`  CometAPI key:          ${keys.cometKey}`,
			`  Webhook secret:        ${keys.webhookSecret}`,
			'Press Ctrl+C to stop.',
		].join('\n'),
	);
	const stop = () => void simulator.close().then(() => process.exit(0));
	process.once('SIGINT', stop);
	process.once('SIGTERM', stop);
}

function choiceFlag<T extends string>(name: string, choices: readonly T[]): T | undefined {
	const args = process.argv.slice(2);
	const inline = args.find((arg) => arg.startsWith(`${name}=`));
	const index = args.indexOf(name);
	const value = inline ? inline.slice(name.length + 1) : index >= 0 ? args[index + 1] : undefined;
	if (value === undefined) return undefined;
	if (!(choices as readonly string[]).includes(value))
		throw new Error(`${name} is "${value}"; it must be one of ${choices.join(', ')}`);
	return value as T;
}

function numberFlag(name: string): number | undefined {
	const args = process.argv.slice(2);
	const inline = args.find((arg) => arg.startsWith(`${name}=`));
	const index = args.indexOf(name);
	return numberFrom(
		inline ? inline.slice(name.length + 1) : index >= 0 ? args[index + 1] : undefined,
		name,
	);
}

function numberFrom(text: string | undefined, name: string): number | undefined {
	if (text === undefined || text === '') return undefined;
	const value = Number(text);
	if (!Number.isFinite(value) || value < 0)
		throw new Error(`${name} is "${text}"; it must be a non-negative number`);
	return value;
}

main().catch((error: Error) => {
	console.error(error.message);
	process.exit(1);
});
