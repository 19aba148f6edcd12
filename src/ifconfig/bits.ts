/**
 * Bit-field values as ifconfig prints them: FreeBSD's printb (`1c<ACTIVE,COLLECTING>`, `0<>`)
 * and NetBSD's snprintb (`0x1c<ACTIVE,COLLECTING>`, `0x0`). Both print hexadecimal. Older
 * FreeBSD printed the LACP actor state as bare hex (`state=3D`), so the LACP state names can be
 * decoded from the value with the IEEE 802.1AX bit order.
 */
import type { BitField } from './model.js';

/** LACP actor/partner state bits, least significant first (IEEE 802.1AX). */
export const LACP_STATE_NAMES = ['ACTIVITY', 'TIMEOUT', 'AGGREGATION', 'SYNC', 'COLLECTING', 'DISTRIBUTING', 'DEFAULTED', 'EXPIRED'] as const;

const BITFIELD = /^(0[xX])?([0-9a-fA-F]+)(?:<([^<>]*)>)?$/;

/** Parse `hex<names>`; undefined when the text is not of that shape. */
export function parseBitField(text: string): BitField | undefined {
  const m = BITFIELD.exec(text);
  if (!m) return undefined;
  const digits = m[2] ?? '';
  // Beyond 2^53 the number would silently lose bits; no ifconfig field is that wide.
  if (digits.replace(/^0+/, '').length > 13) return undefined;
  const names = m[3] === undefined || m[3] === '' ? [] : m[3].split(',').filter((n) => n !== '');
  return { value: parseInt(digits, 16), names, raw: text };
}

/** Names of the set bits of `value` from a table indexed by bit number. */
export function decodeBits(value: number, table: readonly string[]): string[] {
  const names: string[] = [];
  table.forEach((name, bit) => {
    if ((value >>> bit) & 1) names.push(name);
  });
  return names;
}

/** A LACP state field; fills in names from the value when the output printed none (old FreeBSD). */
export function parseLacpState(text: string): BitField | undefined {
  const field = parseBitField(text);
  if (!field) return undefined;
  if (field.names.length === 0 && !text.includes('<') && field.value !== 0) {
    return { ...field, names: decodeBits(field.value, LACP_STATE_NAMES) };
  }
  return field;
}

/** Render a field FreeBSD-style: lower-case hex without 0x, names in angle brackets. */
export function formatBitField(field: BitField): string {
  return `${field.value.toString(16)}<${field.names.join(',')}>`;
}
