// A listen failure is an operator's setting, not a bug: one line naming the setting to
// change, instead of a stack trace.

export interface ListenAddress {
  host: string;
  port: number;
  /** The setting that chose the port: PORT, or METRICS_PORT for the metrics listener. */
  portSetting?: string;
}

/** The one-line explanation of a listen error, or null when it is not about the address. */
export function describeListenError(error: unknown, { host, port, portSetting = 'PORT' }: ListenAddress): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return `${portSetting} ${port} is already in use on ${host}: stop the other process or set ${portSetting} to a free port`;
    case 'EACCES':
      return `${portSetting} ${port} on ${host} is not allowed for this user: ports below 1024 need privileges; set ${portSetting} to 1024 or above`;
    case 'EADDRNOTAVAIL':
      return `HOST ${host} is not an address of this machine: set HOST to one of its addresses, or 0.0.0.0 for all`;
    default:
      return null;
  }
}
