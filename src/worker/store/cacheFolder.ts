// The cache folder of a (model id, revision). The mapping must be injective: two models sharing a folder would
// overwrite each other's files and vouch for each other through one manifest. Plain names keep the folder
// names of caches made before ('models--Xenova--gpt2/main', like Hugging Face's own cache).
import * as path from 'node:path';
import { isHubModelId, isRevision } from '../../core/modelId';
import { EngineError } from '../errors';

export function snapshotFolder(cacheDir: string, modelId: string, revision: string): string {
  if (!isHubModelId(modelId)) throw new EngineError('bad-request', `"${modelId}" is not a Hugging Face model id (owner/name)`);
  if (!isRevision(revision)) throw new EngineError('bad-request', `revision "${revision}" is not a branch, tag or commit name`);
  return path.join(cacheDir, 'models', `models--${modelId.split('/').map(escapeIdPart).join('--')}`, escape(revision));
}

/** Percent-escapes '%' and every character outside [A-Za-z0-9._-], so that the result decodes to one string. */
function escape(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, (c) => [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/** Also escapes each '-' next to another '-' or at an end, so that a literal '--' can only be the separator. */
function escapeIdPart(part: string): string {
  return escape(part).replace(/-+/g, (run, at: number, all: string) => (run.length === 1 && at > 0 && at + 1 < all.length ? run : '%2D'.repeat(run.length)));
}
