// CPU time of the processes a benchmark involves, read from /proc: the service, the
// PostgreSQL backends serving its database, and the load-generating process itself.
import { readdirSync, readFileSync } from 'node:fs';
import { withClient } from '../../test/helpers/database.js';

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** A process and all its descendants (WORKERS: the primary and its node:cluster workers), found through each process's parent pid in /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree: number[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * Seconds a process's main thread spent runnable but waiting for a core (the second field
 * of the thread's schedstat); 0 once it is gone, or where the kernel does not say (no
 * CONFIG_SCHED_INFO).
 */
function mainThreadWaitSecondsOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return 0;
  }
}

/**
 * CPU used by the service, by this database's PostgreSQL backends, and by this
 * (load-generating) process; and how long the service's event loops waited for a core.
 */
export interface CpuMeter {
  read(): Promise<{ service: number; postgres: number; generator: number; serviceWaiting: number }>;
}

export function cpuMeter(servicePid: number, databaseUrl: string, databaseName: string): CpuMeter {
  const seen = new Map<number, number>();
  return {
    async read() {
      await withClient(databaseUrl, async (client) => {
        const { rows } = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [databaseName]);
        for (const { pid } of rows) seen.set(pid, Math.max(seen.get(pid) ?? 0, cpuSecondsOf(pid)));
        for (const pid of seen.keys()) seen.set(pid, Math.max(seen.get(pid) ?? 0, cpuSecondsOf(pid)));
      });
      const self = process.cpuUsage();
      // The service's processes (WORKERS: the primary and its workers). A wrapper's main
      // thread (tsx) sleeps, so the waits summed are the service's event loops'.
      const service = processTree(servicePid);
      const sum = (of: (pid: number) => number) => service.reduce((total, pid) => total + of(pid), 0);
      return {
        service: sum(cpuSecondsOf),
        postgres: [...seen.values()].reduce((a, b) => a + b, 0),
        generator: (self.user + self.system) / 1e6,
        serviceWaiting: sum(mainThreadWaitSecondsOf),
      };
    },
  };
}
