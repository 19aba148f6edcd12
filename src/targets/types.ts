/**
 * One interface, one adapter per target OS (freebsd.ts, netbsd.ts, linux.ts). Deploy, status and
 * undeploy speak only this interface; each adapter turns it into its OS's commands and files:
 * how the module is built and loaded, the lagg words (ifconfig or laggctl), where persistence
 * lives, and the shell that puts a port back the way it was (for the on-host rollback guard).
 */
import type { AggregateSpec } from '../deploy/spec.js';
import type { RemoteHost } from './host.js';

export type TargetOs = 'freebsd' | 'netbsd' | 'linux';

/** What an interface looked like before deploy touched it: enough to put it back exactly. */
export interface IfaceState {
  name: string;
  up: boolean;
  mtu: number;
  mac: string;
  /** CIDR strings as the OS prints them (IPv6 link-local addresses excluded: the kernel makes them). */
  inet: string[];
  inet6: string[];
  /** What already holds the interface: "lagg lagg0", "bridge bridge0", "laggkit laggkit1". */
  memberOf?: string;
}

/** A running aggregate as the status tools report it, reduced to what deploy compares. */
export interface RunningAggregate {
  name: string;
  laggproto: string;
  lagghash: string[];
  ports: { name: string; flags: string[]; prio?: number }[];
  inet: string[];
  inet6: string[];
  mtu: number;
  options: Record<string, number>;
  status: string;
  /** The native status text (ifconfig -v / laggctl -v), for humans. */
  text: string;
}

export interface ModuleFacts {
  /** The kernel module is loaded / laggd runs. */
  loaded: boolean;
  version?: string;
  buildId?: string;
  /** The installed file (module or daemon) and its build id, if any. */
  installedPath: string;
  installedBuildId?: string;
}

export interface HostFacts {
  os: TargetOs;
  uname: string;
  release: string;
  /** FreeBSD kern.osreldate / NetBSD __NetBSD_Version__; absent on Linux. */
  osreldate?: number;
  /** Source tree on the host for --build remote: present and whether it matches the kernel. */
  srcTree: { present: boolean; version?: number; matches?: boolean; path: string };
  module: ModuleFacts;
  interfaces: Record<string, IfaceState>;
  aggregates: RunningAggregate[];
  /** The interface and local address this SSH session arrives on. */
  mgmt: { iface: string | null; address: string | null };
  /** The default routes, to put back if a rollback has to (`default via GW dev IF`). */
  defaultRoutes: { gateway: string; iface?: string; family: 4 | 6 }[];
  /** Init system (Linux) or rc flavour; informational. */
  init: string;
}

/** One persisted setting, expressed for the lossless conf editors (src/conf). */
export interface PersistEdit {
  kind: string;
  key: string;
  value: string;
  list?: 'add';
  file?: string;
}

/** A file deploy installs (binary, module, service script), with its mode. */
export interface Artifact {
  path: string;
  mode: number;
  /** Local file to upload, a file already on the host (a remote build's output), or content. */
  localPath?: string;
  remotePath?: string;
  content?: string;
}

export interface BuildOptions {
  mode: 'remote' | 'local';
  /** The source hash + OS release that names this build. */
  buildId: string;
  sysroot?: string;
  kernbuild?: string;
  /** Local scratch folder for build outputs. */
  workDir: string;
  progress: (line: string) => void;
}

export interface TargetAdapter {
  readonly os: TargetOs;
  /** Where the guard, its logs and the deploy record live on the host. */
  readonly stateDir: string;
  /** Gather facts; `ports` are the interfaces the spec names (they must all be looked at). */
  probe(host: RemoteHost, ports: string[]): Promise<HostFacts>;
  /** The source files whose hash names a build. */
  sourceFiles(): string[];
  /** Build (locally or on the host) and return what to install. Never changes the host's running state. */
  build(host: RemoteHost, facts: HostFacts, opts: BuildOptions): Promise<Artifact[]>;
  /** Shell run on the host after the artifacts are in place (kldxref, daemon-reload...). */
  afterInstall(artifacts: Artifact[]): string;
  /** Shell run after undeploy removed the installed files (daemon-reload, kldxref...). */
  afterUninstall(): string;
  /** Shell that loads the module / starts the daemon (idempotent). */
  loadScript(facts: HostFacts): string;
  /** Shell that creates and configures one aggregate (from nothing: the plan destroyed any stale one first). */
  configureScript(spec: AggregateSpec, facts: HostFacts): string;
  /** Shell that destroys one aggregate (the ports go back to the OS). */
  destroyScript(name: string): string;
  /** Shell that puts one interface back to a saved state (addresses, MTU, up/down). */
  restoreIfaceScript(saved: IfaceState): string;
  /** Shell that puts the default routes back if they are gone. */
  restoreRoutesScript(routes: HostFacts['defaultRoutes']): string;
  /** Shell that unloads the module / stops the daemon. */
  unloadScript(): string;
  /** Read the running aggregates (status). */
  aggregates(host: RemoteHost): Promise<RunningAggregate[]>;
  /** The settings that make `spec` come back after a reboot. */
  persistEdits(spec: AggregateSpec, facts: HostFacts, host: RemoteHost): Promise<PersistEdit[]>;
  /** Does a running aggregate already match the spec (nothing to configure)? Lists what differs. */
  differences(spec: AggregateSpec, running: RunningAggregate): string[];
  /** Port flags that mean "carrying traffic" for this protocol. */
  portReady(spec: AggregateSpec, port: RunningAggregate['ports'][number]): boolean;
}
