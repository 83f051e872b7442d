/**
 * Must load before n8n-core: n8n-core writes its settings (an encryption key) under N8N_USER_FOLDER
 * at import time, and tests must not touch the user's ~/.n8n.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

process.env.N8N_USER_FOLDER ??= mkdtempSync(path.join(tmpdir(), 'kling-expand-n8n-'));
process.env.N8N_LOG_LEVEL ??= 'warn';
