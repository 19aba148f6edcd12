/**
 * Lossless config editors (loader.conf, rc.conf, NetBSD ifconfig.IF and modules.conf) and the
 * service used by `laggkit conf` and by deploy's persist step.
 */
export { confGet, confEdit, validateRequest } from './edit.js';
export type { ConfRequest, ConfValue, ConfEditResult, FileChange, ListOp, Origin } from './edit.js';
export { confKind } from './kinds.js';
export type { ConfKind } from './kinds.js';
export { LocalFiles, RemoteFiles } from './files.js';
export type { ConfFiles } from './files.js';
export { openConfFiles } from './open.js';
export type { WhereOptions } from './open.js';
export { parseShVars, printShVars, setShVar, unsetShVar, listAdd, listRemove, listElements, quoteShValue } from './shvars.js';
export { parseWordLines, printWordLines, setWordLine, addWordLine, removeWordLines } from './wordlines.js';
