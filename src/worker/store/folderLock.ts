// Serialises downloads into one cache folder across processes: two VS Code windows share one global storage,
// and two writers of one `.partial` file or one manifest corrupt each other. The lock is a file created
// exclusively, naming its owner (host, pid, token), and touched while held. It is stale when its owner is a dead
// process on this host, or when nobody has touched it for STALE_MS (an owner on another host of a shared folder,
// or a pid reused by another program). Breaking a stale lock goes through a second exclusive file, so that two
// waiters cannot both break it and one of them then delete the lock the other has just taken.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

const LOCK = '.local-gpt2.lock';
const REFRESH_MS = 2_000;
const STALE_MS = 30_000;
const POLL_MS = 200;

interface Owner {
  host: string;
  pid: number;
  token: string;
}

export interface LockHooks {
  signal?: AbortSignal;
  log?(message: string): void;
}

export async function withFolderLock<T>(folder: string, hooks: LockHooks, run: () => Promise<T>): Promise<T> {
  await fs.mkdir(folder, { recursive: true });
  const file = path.join(folder, LOCK);
  const owner: Owner = { host: os.hostname(), pid: process.pid, token: randomBytes(8).toString('hex') };
  await acquire(file, owner, hooks);
  const refresh = setInterval(() => void fs.utimes(file, new Date(), new Date()).catch(() => undefined), REFRESH_MS);
  refresh.unref();
  try {
    return await run();
  } finally {
    clearInterval(refresh);
    if ((await readOwner(file))?.token === owner.token) await fs.rm(file, { force: true });
  }
}

async function acquire(file: string, owner: Owner, hooks: LockHooks): Promise<void> {
  for (let waited = false; !(await tryCreate(file, owner)); ) {
    if (await isStale(file)) {
      await breakStale(file, owner);
      continue;
    }
    if (!waited) hooks.log?.(`another window is downloading into ${path.dirname(file)}; waiting for it to finish`);
    waited = true;
    await sleep(POLL_MS, hooks.signal);
  }
}

async function tryCreate(file: string, owner: Owner): Promise<boolean> {
  try {
    await fs.writeFile(file, JSON.stringify(owner), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Only the holder of `file.break` deletes a stale lock, after checking again that it still is stale. */
async function breakStale(file: string, owner: Owner): Promise<void> {
  const breaker = `${file}.break`;
  if (!(await tryCreate(breaker, owner))) {
    if (await isStale(breaker)) await fs.rm(breaker, { force: true }); // a breaker that died while breaking
    return;
  }
  try {
    if (await isStale(file)) await fs.rm(file, { force: true });
  } finally {
    await fs.rm(breaker, { force: true });
  }
}

async function isStale(file: string): Promise<boolean> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) return false; // gone: the next try takes it
  if (Date.now() - stat.mtimeMs > STALE_MS) return true;
  const owner = await readOwner(file); // unreadable while its owner is still writing it: judged by age only
  return owner?.host === os.hostname() && !isAlive(owner.pid);
}

async function readOwner(file: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await fs.readFile(file, 'utf8'));
    return typeof owner?.pid === 'number' && typeof owner.token === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0 only asks whether the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // it exists, but belongs to another user
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      if (signal?.aborted) reject(signal.reason);
      else resolve();
    }
  });
}
