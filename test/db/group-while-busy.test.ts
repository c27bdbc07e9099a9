// Grouping while busy (src/db/group-while-busy.ts): what arrives while every slot is busy
// goes together in the next group, and several groupers (one per app) share their slots in
// turn, so that spreading a load over apps neither adds concurrent transactions nor shrinks
// the groups.
import { describe, expect, it } from 'vitest';
import { createSlots, groupWhileBusy, type Waiting } from '../../src/db/group-while-busy.js';

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A grouper whose runs wait for the test to end them; it records each group and the number of runs in flight. */
function heldGrouper(
  name: string,
  log: { groups: string[][]; inFlight: number; maxInFlight: number },
  options: { maxGroup: number; slots?: ReturnType<typeof createSlots>; maxConcurrent?: number },
) {
  const gates: Gate[] = [];
  const submit = groupWhileBusy<string, string>({
    maxGroup: options.maxGroup,
    ...(options.slots ? { slots: options.slots } : { maxConcurrent: options.maxConcurrent ?? 1 }),
    async run(group: Waiting<string, string>[]) {
      log.groups.push(group.map((waiting) => `${name}:${waiting.item}`));
      log.inFlight += 1;
      log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
      const held = gate();
      gates.push(held);
      await held.promise;
      log.inFlight -= 1;
      for (const waiting of group) waiting.resolve(`${waiting.item} done`);
    },
  });
  return { submit, gates };
}

describe('groupWhileBusy', () => {
  it('sends the first item at once and gathers what arrives while the slot is busy into the next group, up to maxGroup', async () => {
    const log = { groups: [] as string[][], inFlight: 0, maxInFlight: 0 };
    const a = heldGrouper('a', log, { maxGroup: 3, maxConcurrent: 1 });
    const first = a.submit('1');
    await turn();
    const rest = ['2', '3', '4', '5'].map((item) => a.submit(item));
    await turn();
    expect(log.groups).toEqual([['a:1']]);
    a.gates[0]!.open();
    await expect(first).resolves.toBe('1 done');
    await turn();
    expect(log.groups).toEqual([['a:1'], ['a:2', 'a:3', 'a:4']]);
    a.gates[1]!.open();
    await turn();
    await turn();
    expect(log.groups[2]).toEqual(['a:5']);
    a.gates[2]!.open();
    await expect(Promise.all(rest)).resolves.toEqual(['2 done', '3 done', '4 done', '5 done']);
    expect(log.maxInFlight).toBe(1);
  });

  it('lets groupers sharing slots take them in turn: never more in flight than slots, and each group gathers what came while the others ran', async () => {
    const log = { groups: [] as string[][], inFlight: 0, maxInFlight: 0 };
    const slots = createSlots(1);
    const a = heldGrouper('a', log, { maxGroup: 10, slots });
    const b = heldGrouper('b', log, { maxGroup: 10, slots });
    const c = heldGrouper('c', log, { maxGroup: 10, slots });
    const pending = [a.submit('1')];
    await turn();
    // While a writes, every app receives more.
    pending.push(b.submit('1'), c.submit('1'), b.submit('2'), a.submit('2'), c.submit('2'));
    await turn();
    expect(log.groups).toEqual([['a:1']]);

    a.gates[0]!.open();
    await turn();
    await turn();
    // b waited longest for the slot, then c, then a.
    expect(log.groups).toEqual([['a:1'], ['b:1', 'b:2']]);
    b.gates[0]!.open();
    await turn();
    await turn();
    expect(log.groups.at(-1)).toEqual(['c:1', 'c:2']);
    c.gates[0]!.open();
    await turn();
    await turn();
    expect(log.groups.at(-1)).toEqual(['a:2']);
    a.gates[1]!.open();
    await Promise.all(pending);
    expect(log.maxInFlight).toBe(1);
    expect(log.groups).toHaveLength(4);
  });

  it('frees the slot of a run that throws and rejects only that run’s items', async () => {
    const slots = createSlots(1);
    const failing = groupWhileBusy<string, string>({
      maxGroup: 10,
      slots,
      run: async () => {
        throw new Error('statement refused');
      },
    });
    const working = groupWhileBusy<string, string>({
      maxGroup: 10,
      slots,
      run: async (group) => {
        for (const waiting of group) waiting.resolve(`${waiting.item} done`);
      },
    });
    const refused = failing('x');
    const answered = working('y');
    await expect(refused).rejects.toThrow('statement refused');
    await expect(answered).resolves.toBe('y done');
    await expect(working('z')).resolves.toBe('z done');
  });

  it('settles every item, each with its own answer, when three groupers share two slots under random timing', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const slots = createSlots(2);
    let inFlight = 0;
    let maxInFlight = 0;
    let largest = 0;
    const groupers = ['a', 'b', 'c'].map((name) =>
      groupWhileBusy<number, string>({
        maxGroup: 5,
        slots,
        async run(group) {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          largest = Math.max(largest, group.length);
          for (let i = Math.floor(random() * 4); i > 0; i -= 1) await turn();
          inFlight -= 1;
          for (const waiting of group) waiting.resolve(`${name}${waiting.item}`);
        },
      }),
    );
    const expected: string[] = [];
    const answers: Promise<string>[] = [];
    for (let item = 0; item < 300; item += 1) {
      const index = Math.floor(random() * 3);
      expected.push(`${['a', 'b', 'c'][index]}${item}`);
      answers.push(groupers[index]!(item));
      if (random() < 0.3) await turn();
    }
    expect(await Promise.all(answers)).toEqual(expected);
    expect(maxInFlight).toBeLessThanOrEqual(2);
    expect(maxInFlight).toBe(2);
    expect(largest).toBeLessThanOrEqual(5);
    expect(largest).toBeGreaterThan(1);
  });

  it('refuses a slot count that is not a positive integer', () => {
    expect(() => createSlots(0)).toThrow('positive integer');
    expect(() => createSlots(1.5)).toThrow('positive integer');
  });
});
