/* eslint-disable @typescript-eslint/no-require-imports -- loads compiled files and the scanner's own modules the way n8n does */
/**
 * `npm run scan`: the checks n8n's community package scanner applies, run on this repository's `npm pack`
 * tarball before it is published.
 *
 * - The scanner itself (@n8n/scan-community-package 0.32, its `analyzePackage`): n8n's ESLint rules on the
 *   tarball's JS and package.json, and on the source (package.json, nodes/, credentials/). Only its
 *   registry steps (provenance, download) are left out: the package is not published.
 *   Its warnings fail the scan too (the scanner itself counts only errors).
 * - What those rules let through, checked here: every `require` in shipped JS must be relative, n8n-workflow
 *   or node:crypto (the linter allows any devDependency, which n8n never installs); every file the `n8n`
 *   section names is in the tarball and loads, with the node and credential names the examples use.
 * - `npm run lint`'s config gives every shipped source file exactly the rules of @n8n/node-cli's default
 *   config, and the package's links lead somewhere: one repository URL, the credential's docs on npm.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import type { ESLint } from 'eslint';

import { headingAnchors } from '../../test/harness/markdown';
import { PACKAGE_NAME, REPO_ROOT } from './config';
import { buildAndPack } from './package';
import { runOrThrow } from './processes';

/** Modules shipped code may require at run time: n8n provides n8n-workflow; crypto is on n8n Cloud's allow list. */
const ALLOWED_REQUIRES = new Set(['n8n-workflow', 'crypto', 'node:crypto']);
const FORBIDDEN_LIFECYCLE_SCRIPTS = [
	'prepare',
	'preinstall',
	'install',
	'postinstall',
	'prepublish',
	'preprepare',
	'postprepare',
];
const EXPECTED = { nodes: ['klingExpand', 'klingExpandTrigger'], credentials: ['klingApi'] };

interface ScanResult {
	passed: boolean;
	message?: string;
	details?: string;
}

interface Scanner {
	analyzePackage(directory: string, patterns?: string[]): Promise<ScanResult>;
	buildScanConfig(): Promise<unknown>;
	SOURCE_FILE_PATTERNS: string[];
}

async function main(): Promise<number> {
	// Inside the repository, so that the unpacked dist resolves n8n-workflow from our node_modules, as it would from n8n's.
	mkdirSync(join(REPO_ROOT, '.cache'), { recursive: true });
	const workDir = mkdtempSync(join(REPO_ROOT, '.cache', 'scan-'));
	try {
		const tarball = await buildAndPack(workDir);
		const packageDir = join(workDir, 'package');
		mkdirSync(packageDir);
		await runOrThrow('tar', ['-xzf', tarball, '-C', packageDir, '--strip-components=1']);
		console.log(`[scan] ${basename(tarball)}: ${listFiles(packageDir).length} files`);

		const problems = [
			...checkPackageJson(packageDir),
			...checkLinks(packageDir),
			...checkShippedRequires(packageDir),
			...checkN8nSection(packageDir),
		];
		for (const problem of problems) console.log(`  ✗ ${problem}`);
		if (problems.length === 0)
			console.log('  ✓ package.json, links, n8n section, shipped requires');

		const scanner = await importScanner();
		const results: [string, ScanResult][] = [
			[
				'scanner on the tarball (dist JS + package.json)',
				await scanner.analyzePackage(packageDir, ['**/*.js', 'package.json']),
			],
			[
				'scanner on the source (package.json, nodes/, credentials/)',
				await scanner.analyzePackage(REPO_ROOT, scanner.SOURCE_FILE_PATTERNS),
			],
			[
				'no scanner warnings on the tarball and the source',
				await scannerWarnings(scanner, [
					[packageDir, ['**/*.js', 'package.json']],
					[REPO_ROOT, scanner.SOURCE_FILE_PATTERNS],
				]),
			],
			[
				"npm run lint applies @n8n/node-cli's default rules unchanged to the shipped source",
				await checkLintConfig(scanner.SOURCE_FILE_PATTERNS),
			],
		];
		for (const [what, result] of results) {
			console.log(
				`  ${result.passed ? '✓' : '✗'} ${what}${result.message ? `: ${result.message}` : ''}`,
			);
			if (result.details) console.log(result.details);
		}
		const outcomes = [problems.length === 0, ...results.map(([, result]) => result.passed)];
		const failed = outcomes.filter((passed) => !passed).length;
		console.log(`${outcomes.length - failed} passed, ${failed} failed`);
		return failed === 0 ? 0 : 1;
	} finally {
		rmSync(workDir, { recursive: true, force: true });
	}
}

function checkPackageJson(packageDir: string): string[] {
	const pkg = readJson(join(packageDir, 'package.json'));
	const problems: string[] = [];
	if (pkg.name !== PACKAGE_NAME || !/^(@[^/]+\/)?n8n-nodes-/.test(String(pkg.name)))
		problems.push(`package name is "${String(pkg.name)}"`);
	if (!(pkg.keywords as string[] | undefined)?.includes('n8n-community-node-package'))
		problems.push('keywords lack "n8n-community-node-package"');
	const dependencies = Object.keys((pkg.dependencies as object | undefined) ?? {});
	if (dependencies.length)
		problems.push(
			`runtime dependencies: ${dependencies.join(', ')}; n8n installs none for verified nodes`,
		);
	if (pkg.bundleDependencies || pkg.bundledDependencies)
		problems.push('bundled dependencies are not allowed');
	const scripts = Object.keys((pkg.scripts as object | undefined) ?? {}).filter((name) =>
		FORBIDDEN_LIFECYCLE_SCRIPTS.includes(name),
	);
	if (scripts.length)
		problems.push(`lifecycle scripts that would run on install: ${scripts.join(', ')}`);
	const unexpected = listFiles(packageDir).filter(
		(file) => !/^(dist\/|package\.json$|README\.md$|LICENSE(\.md)?$|index\.js$)/.test(file),
	);
	if (unexpected.length)
		problems.push(`files outside dist/ in the tarball: ${unexpected.join(', ')}`);
	return problems;
}

/** Each `require("x")` in shipped JS, for x neither relative nor allowed. TypeScript emits every import as such a call. */
function checkShippedRequires(packageDir: string): string[] {
	const problems: string[] = [];
	for (const file of listFiles(packageDir).filter((name) => name.endsWith('.js'))) {
		const source = readFileSync(join(packageDir, file), 'utf8');
		for (const match of source.matchAll(
			/\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)|\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g,
		)) {
			const name = match[1] ?? match[2];
			if (!name.startsWith('.') && !ALLOWED_REQUIRES.has(name))
				problems.push(`${file} requires "${name}"`);
		}
	}
	return problems;
}

/** The `n8n` section: API version 1, a boolean `strict`, and every listed file present and exporting the expected class. */
function checkN8nSection(packageDir: string): string[] {
	const section = readJson(join(packageDir, 'package.json')).n8n as
		| { n8nNodesApiVersion?: number; strict?: boolean; nodes?: string[]; credentials?: string[] }
		| undefined;
	if (!section) return ['package.json has no "n8n" section'];
	const problems: string[] = [];
	if (section.n8nNodesApiVersion !== 1)
		problems.push(`n8n.n8nNodesApiVersion is ${section.n8nNodesApiVersion}; expected 1`);
	// false on purpose: strict mode would lint the dev code with the Cloud rules (eslint.config.mjs says why).
	if (typeof section.strict !== 'boolean') problems.push('n8n.strict is not a boolean');
	const names = { nodes: [] as string[], credentials: [] as string[] };
	for (const kind of ['nodes', 'credentials'] as const) {
		for (const file of section[kind] ?? []) {
			const path = join(packageDir, file);
			try {
				statSync(path);
			} catch {
				problems.push(`n8n.${kind} lists ${file}, which is not in the tarball`);
				continue;
			}
			const exported = Object.values(
				require(path) as Record<
					string,
					new () => { description?: { name?: string }; name?: string }
				>,
			);
			const instance = exported.length === 1 ? new exported[0]() : undefined;
			const name = kind === 'nodes' ? instance?.description?.name : instance?.name;
			if (!name)
				problems.push(
					`${file} does not export exactly one ${kind === 'nodes' ? 'node' : 'credential'} class`,
				);
			else names[kind].push(name);
		}
	}
	for (const kind of ['nodes', 'credentials'] as const) {
		const missing = EXPECTED[kind].filter((name) => !names[kind].includes(name));
		if (missing.length)
			problems.push(
				`n8n.${kind} lacks ${missing.join(', ')} (found ${names[kind].join(', ') || 'none'})`,
			);
	}
	return problems;
}

/**
 * The repository URL is named once, in package.json (homepage, repository, bugs share it). Every
 * documentation link (the credential's documentationUrl, each node codex's primary and credential
 * documentation) is a section of the README on the package's npm page, which exists once published:
 * `https://www.npmjs.com/package/<name>#<anchor>`, the anchor one of the README's headings.
 */
function checkLinks(packageDir: string): string[] {
	const pkg = readJson(join(packageDir, 'package.json')) as {
		name?: string;
		homepage?: string;
		repository?: { url?: string };
		bugs?: { url?: string };
		n8n?: { nodes?: string[] };
	};
	const problems: string[] = [];
	const repository = /^git\+(https:\/\/github\.com\/[\w.-]+\/[\w.-]+)\.git$/.exec(
		pkg.repository?.url ?? '',
	)?.[1];
	if (!repository)
		problems.push(
			`repository.url is "${pkg.repository?.url}"; expected git+https://github.com/<owner>/<name>.git (npm's provenance checks it)`,
		);
	else {
		if (pkg.homepage !== `${repository}#readme`)
			problems.push(`homepage is "${pkg.homepage}"; expected ${repository}#readme`);
		if (pkg.bugs?.url !== `${repository}/issues`)
			problems.push(`bugs.url is "${pkg.bugs?.url}"; expected ${repository}/issues`);
	}
	const readmeAnchors = headingAnchors(readFileSync(join(packageDir, 'README.md'), 'utf8'));
	const docsPage = `https://www.npmjs.com/package/${pkg.name}#`;
	const checkDocsLink = (where: string, url: string | undefined, anchor?: string) => {
		const found = url?.startsWith(docsPage) ? url.slice(docsPage.length) : undefined;
		if (found === undefined || (anchor !== undefined && found !== anchor))
			problems.push(`${where} is "${url}"; expected ${docsPage}${anchor ?? '<README heading>'}`);
		else if (!readmeAnchors.has(found))
			problems.push(`${where} links to #${found}, which no README.md heading makes`);
	};

	const credentialFile = join(packageDir, 'dist', 'credentials', 'KlingApi.credentials.js');
	const { KlingApi } = require(credentialFile) as {
		KlingApi: new () => { documentationUrl?: string };
	};
	checkDocsLink(
		"the credential's documentationUrl",
		new KlingApi().documentationUrl,
		'credentials',
	);
	for (const nodeFile of pkg.n8n?.nodes ?? []) {
		const codexFile = join(packageDir, nodeFile.replace(/\.js$/, '.json'));
		const codex = readJson(codexFile) as {
			resources?: Record<string, { url?: string }[] | undefined>;
		};
		for (const kind of ['primaryDocumentation', 'credentialDocumentation'])
			for (const link of codex.resources?.[kind] ?? [{ url: undefined }])
				checkDocsLink(
					`${nodeFile.replace(/^dist\//, '')}'s codex ${kind}`,
					link.url,
					kind === 'credentialDocumentation' ? 'credentials' : undefined,
				);
	}
	return problems;
}

/** The scanner's own lint config on the same files, failing on warnings as well as errors. */
async function scannerWarnings(
	scanner: Scanner,
	targets: [string, string[]][],
): Promise<ScanResult> {
	const { ESLint: ScannerESLint } = require(
		require.resolve('eslint', { paths: [scannerDir()] }),
	) as typeof import('eslint');
	const lines: string[] = [];
	for (const [directory, patterns] of targets) {
		const eslint = new ScannerESLint({
			cwd: directory,
			allowInlineConfig: false,
			overrideConfigFile: true,
			overrideConfig: (await scanner.buildScanConfig()) as ESLint.Options['overrideConfig'],
		});
		const files = patterns.flatMap((pattern) => globFiles(directory, pattern));
		for (const result of await eslint.lintFiles(files)) {
			for (const message of result.messages)
				lines.push(
					`      ${result.filePath.slice(directory.length + 1)}:${message.line}:${message.column} ${message.message} (${message.ruleId})`,
				);
		}
	}
	return lines.length
		? { passed: false, message: `${lines.length} warning(s)`, details: lines.join('\n') }
		: { passed: true };
}

/**
 * Every shipped source file gets the same rules from our eslint.config.mjs as from @n8n/node-cli's default
 * eslint.config.mjs (the one strict mode demands): the Cloud rule set applies to them unchanged.
 */
async function checkLintConfig(patterns: string[]): Promise<ScanResult> {
	const { ESLint: RepoESLint } = require('eslint') as typeof import('eslint');
	const defaultConfigFile = join(
		dirname(require.resolve('@n8n/node-cli/eslint', { paths: [REPO_ROOT] })),
		'../template/templates/shared/default/eslint.config.mjs',
	);
	const ours = new RepoESLint({ cwd: REPO_ROOT });
	const defaults = new RepoESLint({ cwd: REPO_ROOT, overrideConfigFile: defaultConfigFile });
	const files = patterns
		.flatMap((pattern) => globFiles(REPO_ROOT, pattern))
		.filter((file) => /\.ts$|package\.json$/.test(file));
	const differences: string[] = [];
	let ruleCount = 0;
	for (const file of files) {
		const [mine, theirs] = await Promise.all([
			ours.calculateConfigForFile(file),
			defaults.calculateConfigForFile(file),
		]);
		const expected = JSON.stringify(sortedRules(theirs));
		ruleCount += Object.keys(sortedRules(theirs)).length;
		if (JSON.stringify(sortedRules(mine)) !== expected)
			differences.push(
				`      ${file.slice(REPO_ROOT.length + 1)}: the rules differ from node-cli's default config`,
			);
	}
	if (files.length === 0 || ruleCount === 0)
		return { passed: false, message: 'no shipped source file or no rule found' };
	return differences.length
		? { passed: false, message: `${differences.length} file(s)`, details: differences.join('\n') }
		: { passed: true, message: `${files.length} files, ${ruleCount} rule settings compared` };
}

function sortedRules(
	config: { rules?: Record<string, unknown> } | undefined,
): Record<string, unknown> {
	return Object.fromEntries(
		Object.entries(config?.rules ?? {}).sort(([a], [b]) => a.localeCompare(b)),
	);
}

/** The files under `directory` a scanner pattern names (the only shapes SOURCE_FILE_PATTERNS and ours use). */
function globFiles(directory: string, pattern: string): string[] {
	const glob = require(require.resolve('fast-glob', { paths: [scannerDir()] })) as {
		sync(pattern: string, options: object): string[];
	};
	return glob.sync(pattern, {
		cwd: directory,
		absolute: true,
		ignore: ['node_modules/**', '**/package-lock.json'],
	});
}

function scannerDir(): string {
	return dirname(
		require.resolve('@n8n/scan-community-package/scanner/scanner.mjs', { paths: [REPO_ROOT] }),
	);
}

function listFiles(directory: string, prefix = ''): string[] {
	return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
		entry.isDirectory()
			? listFiles(join(directory, entry.name), `${prefix}${entry.name}/`)
			: [`${prefix}${entry.name}`],
	);
}

function readJson(path: string): Record<string, unknown> {
	return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** The scanner is an ES module; TypeScript's CommonJS output would turn `import()` into `require()`, so keep it native. */
async function importScanner(): Promise<Scanner> {
	const nativeImport = new Function('specifier', 'return import(specifier)') as (
		specifier: string,
	) => Promise<Scanner>;
	return await nativeImport(
		require.resolve('@n8n/scan-community-package/scanner/scanner.mjs', { paths: [REPO_ROOT] }),
	);
}

main().then(
	(code) => process.exit(code),
	(error: Error) => {
		console.error(error);
		process.exit(1);
	},
);
