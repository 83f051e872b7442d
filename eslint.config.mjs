// `npm run lint` (`n8n-node lint`, which runs `eslint .`). Two parts:
// - shipped code (nodes/, credentials/) and package.json: @n8n/node-cli's own config, the one its
//   default eslint.config.mjs exports, applied unchanged (Cloud rule set: no setTimeout, process, other imports…);
// - dev code (test/, scripts/, root config files): ESLint's and typescript-eslint's recommended rules. It runs
//   servers, timers and child processes and holds fixture secrets, which the Cloud rules forbid in shipped code only.
// This is why package.json says "strict": false: strict mode demands the default config file, whose `eslint .`
// would apply the shipped-code rules to the dev code too. `npm run scan` checks that the shipped files get
// exactly node-cli's rules (README: Development tooling).
import js from '@eslint/js';
import { config as n8nCommunityNodeConfig } from '@n8n/node-cli/eslint';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const SHIPPED_FILES = ['nodes/**/*.ts', 'credentials/**/*.ts', 'package.json'];

export default defineConfig(
	globalIgnores(['dist/', 'coverage/', '.cache/', '.tmp/', 'demo-output/', 'bench-results/']),
	{ files: SHIPPED_FILES, extends: [n8nCommunityNodeConfig] },
	{
		files: ['test/**/*.ts', 'scripts/**/*.ts'],
		extends: [js.configs.recommended, tseslint.configs.recommended],
		rules: {
			'@typescript-eslint/no-unused-vars': [
				'error',
				{ ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
			],
		},
	},
	{
		// Tests read loosely typed JSON answers and assert only the fields they care about.
		files: ['test/**/*.ts'],
		rules: { '@typescript-eslint/no-explicit-any': 'off' },
	},
	{
		files: ['**/*.js'],
		extends: [js.configs.recommended],
		languageOptions: { sourceType: 'commonjs' },
	},
	{
		files: ['**/*.mjs'],
		extends: [js.configs.recommended],
	},
);
