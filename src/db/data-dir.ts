import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../config.js';

// The embedded database's directory: owner-only, and one process at a time. PGlite writes
// its initial files world-writable (mode 666, whatever the umask) and takes no lock of its
// own, so two processes on one directory would each miss the other's writes.

export const LOCK_FILE = 'service.lock';

interface LockRecord {
  pid: number;
  /** The holder's start time (Linux: clock ticks since boot), so a reused pid is not mistaken for it. */
  startTime: string | null;
  hostname: string;
}

// Directories this process holds; a second opening from the same process must fail as
// one from another process does. Process-wide by nature, like the lock files themselves.
const heldHere = new Set<string>();

const problem = (dir: string, text: string) => new ConfigError('DATA_DIR', `${dir} ${text}`);

/**
 * Makes `dir` a directory only its owner can enter (created 0700, or an existing one
 * tightened: earlier versions left it 755 with 666 files, and refusing those would stop
 * every upgrade for no gain). Anything that makes it unusable is a ConfigError naming DATA_DIR.
 */
export function prepareDataDir(dir: string): void {
  let stat;
  try {
    stat = statSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw problem(dir, `cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
  if (stat && !stat.isDirectory()) throw problem(dir, 'is not a directory');
  try {
    if (!stat) mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOTDIR'
        ? 'lies under a file, not a directory'
        : code === 'EACCES'
          ? 'is not writable by this user'
          : code === 'EPERM'
            ? 'belongs to another user'
            : `cannot be used (${code ?? 'error'})`;
    throw problem(dir, why);
  }
}

/** Takes group and world access away from everything under `dir`; answers how many paths changed. */
export function restrictToOwner(dir: string): number {
  let changed = 0;
  const visit = (current: string) => {
    const stat = lstatSync(current);
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) {
      chmodSync(current, stat.mode & 0o700);
      changed++;
    }
    if (stat.isDirectory()) for (const entry of readdirSync(current)) visit(path.join(current, entry));
  };
  visit(dir);
  return changed;
}

/** The start time of `pid` from /proc (Linux); null elsewhere or when it is gone. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseLock(text: string): LockRecord | null {
  try {
    const parsed = JSON.parse(text) as Partial<LockRecord>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, startTime: parsed.startTime ?? null, hostname: parsed.hostname ?? '?' } : null;
  } catch {
    return null;
  }
}

function holderRuns(record: LockRecord, key: string): boolean {
  // Our own pid: this process (a second opening) or a predecessor that had the same pid,
  // as PID 1 of a restarted container does.
  if (record.pid === process.pid) return heldHere.has(key);
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const now = startTimeOf(record.pid);
  return record.startTime === null || now === null || now === record.startTime;
}

export interface DataDirLock {
  release(): void;
}

/**
 * An exclusive lock on `dir` for this process: a lock file holding our pid and start
 * time, created with O_EXCL. A lock whose process no longer runs (SIGKILL, power loss)
 * or whose pid now belongs to another program is taken over. It guards processes that
 * see each other's pids (one machine, one pid namespace), which is where DATA_DIR lives.
 */
export function lockDataDir(dir: string): DataDirLock {
  const key = path.resolve(dir);
  const lockPath = path.join(key, LOCK_FILE);
  const mine: LockRecord = { pid: process.pid, startTime: startTimeOf(process.pid), hostname: hostname() };
  const text = JSON.stringify(mine);
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw problem(dir, `cannot hold a lock file (${(error as NodeJS.ErrnoException).code})`);
      const existing = readLockText(lockPath);
      if (existing === null) continue; // removed meanwhile: try again
      const record = parseLock(existing);
      if (record === null) {
        // Created but not yet written by a process starting right now, or left empty by a crash.
        if (Date.now() - lockMtime(lockPath) < 10_000) throw inUse(dir, 'another process that is starting');
      } else if (holderRuns(record, key)) {
        throw inUse(dir, `process ${record.pid} on ${record.hostname}`);
      }
      removeStale(lockPath, existing);
      continue;
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    heldHere.add(key);
    return {
      release() {
        heldHere.delete(key);
        if (readLockText(lockPath) === text) unlinkSync(lockPath);
      },
    };
  }
  throw inUse(dir, 'other processes contending for it');
}

function inUse(dir: string, by: string): ConfigError {
  return problem(dir, `is in use by ${by}: only one process may open the embedded database (stop it, or give this one another DATA_DIR)`);
}

function readLockText(lockPath: string): string | null {
  try {
    return readFileSync(lockPath, 'utf8');
  } catch {
    return null;
  }
}

/** The lock file's modification time in ms; 0 when it is gone. */
function lockMtime(lockPath: string): number {
  try {
    return statSync(lockPath).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Removes a stale lock without removing a fresh one another process put there since we
 * read it: move it aside (atomic), and if what was moved is not what we judged, put it back.
 */
function removeStale(lockPath: string, judged: string): void {
  const aside = `${lockPath}.stale-${process.pid}`;
  try {
    renameSync(lockPath, aside);
  } catch {
    return; // someone else removed it first
  }
  if (readLockText(aside) !== judged) {
    try {
      linkSync(aside, lockPath);
    } catch {
      // A third process locked meanwhile; it holds the lock, ours is just the moved copy.
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
}
