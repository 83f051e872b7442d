/**
 * `npm run test:editor`: a new user's first contact with the package in real n8n 2.41.1's editor,
 * driven in Debian's Chromium by playwright-core (scripts/n8n/browser.ts).
 *
 * The same set-up as test:n8n (cached n8n, the package installed with the README's command, the
 * simulator, the examples imported, nothing published), then `n8n start` and the journeys in
 * editorChecks.ts, in order: search, a credential made in the UI, a workflow built and run, a bad
 * input, Callback (Resume), publishing the trigger, the examples. Each asserts on what the page
 * shows; screenshots go to editor-screenshots/ (ignored by git). KLING_EDITOR_CHECKS=1,3 runs only
 * those checks (1-based); KEEP_N8N_WORKDIR=1 keeps the work folder.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { editorContext, launchChromium, saveScreenshot, signIn } from './browser';
import { REPO_ROOT } from './config';
import { editorChecks, type EditorSession } from './editorChecks';
import { prepare, removeWorkDir, startServer, type Environment } from './environment';
import { seconds } from './processes';

const SCREENSHOTS = join(REPO_ROOT, 'editor-screenshots');
const log = (line: string) => console.log(`[test:editor] ${line}`);

async function main(): Promise<number> {
	const started = Date.now();
	rmSync(SCREENSHOTS, { recursive: true, force: true });
	mkdirSync(SCREENSHOTS, { recursive: true });
	const selected = (process.env.KLING_EDITOR_CHECKS || '').split(',').filter(Boolean).map(Number);
	let environment: Environment | undefined;
	let passed = 0;
	let failed = 0;
	const browser = await launchChromium();
	try {
		// As users import them: the examples unpublished, the Slack node on.
		environment = await prepare(log, { forScreenshots: true });
		const server = await startServer(environment);
		log(`n8n ${server.url} ready; Chromium ${browser.version()}`);
		const context = await editorContext(browser);
		const page = await context.newPage();
		await signIn(page, server.url);
		let shots = 0;
		const session: EditorSession = {
			page,
			baseUrl: server.url,
			simulatorUrl: environment.simulator.url,
			filesDir: environment.filesDir,
			rest: server.rest,
			submitWithCallbackId: environment.workflows.submitWithCallback.id,
			shot: async (name) => {
				await saveScreenshot(page, SCREENSHOTS, `${String(++shots).padStart(2, '0')}-${name}`);
			},
		};
		for (const [index, check] of editorChecks.entries()) {
			if (selected.length && !selected.includes(index + 1)) continue;
			const checkStarted = Date.now();
			try {
				const result = await check.run(session);
				passed++;
				console.log(`  ✓ ${check.name} (${seconds(Date.now() - checkStarted)})\n      ${result}`);
			} catch (error) {
				failed++;
				await session.shot(`FAILED-check-${index + 1}`).catch(() => undefined);
				console.log(
					`  ✗ ${check.name}\n      ${(error as Error).message.split('\n').join('\n      ')}`,
				);
			}
		}
	} catch (error) {
		failed++;
		console.log(`  ✗ setup: ${(error as Error).message}`);
	} finally {
		await browser.close();
		await environment?.close();
	}
	if (environment) {
		if (failed > 0 || process.env.KEEP_N8N_WORKDIR === '1')
			log(`logs and n8n user folder kept in ${environment.workDir}`);
		else removeWorkDir(environment);
	}
	log(`screenshots in ${SCREENSHOTS}; total ${seconds(Date.now() - started)}`);
	console.log(`${passed} passed, ${failed} failed`);
	return failed === 0 ? 0 : 1;
}

main().then(
	(code) => process.exit(code),
	(error: Error) => {
		console.error(error);
		process.exit(1);
	},
);
