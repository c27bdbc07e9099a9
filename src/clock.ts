/** Time is injected everywhere so tests never freeze global time. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
