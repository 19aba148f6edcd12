/**
 * Public entry of the ifconfig parser: parseIfconfig(text, {os}) and the model types. Other
 * parts (status output, laggd and lab tests, e2e) import from here only; the files behind it
 * may move, this surface stays.
 */
export { parseIfconfig, OS_OPTIONS } from './parse.js';
export { renderFreebsd } from './render.js';
export { formatTable } from './table.js';
export { LACP_STATE_NAMES } from './bits.js';
export type {
  BitField,
  Dialect,
  DialectChoice,
  IfconfigModel,
  IfInterface,
  Inet4Address,
  Inet6Address,
  LacpIdPair,
  LacpPeer,
  LaggInfo,
  LaggOptions,
  LaggPort,
  LaggPortLacp,
  LaggStatistics,
  Media,
  MediaWord,
  NetbsdLaggDetails,
  OsOption,
  OtherLine,
  ParseOptions,
  UnknownLine,
  Variant,
} from './model.js';
