/**
 * Writes a run's reports into a folder: report.tap, junit.xml, report.json and report.html,
 * all rendered from the same result object.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LaggkitError } from '../../cli/errors.js';
import type { E2eResult } from '../engine.js';
import { renderHtml } from './html.js';
import { renderJunit } from './junit.js';
import { renderTap } from './text.js';

export interface ReportFiles {
  tap: string;
  junit: string;
  json: string;
  html: string;
}

export function writeReports(dir: string, res: E2eResult): ReportFiles {
  const files: ReportFiles = {
    tap: path.join(dir, 'report.tap'),
    junit: path.join(dir, 'junit.xml'),
    json: path.join(dir, 'report.json'),
    html: path.join(dir, 'report.html'),
  };
  const texts: Array<[string, string]> = [
    [files.tap, renderTap(res)],
    [files.junit, renderJunit(res)],
    [files.json, JSON.stringify(res, null, 2) + '\n'],
    [files.html, renderHtml(res)],
  ];
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const [file, text] of texts) fs.writeFileSync(file, text);
  } catch (err) {
    throw new LaggkitError(
      'remote',
      'E_E2E_REPORT',
      `cannot write the e2e report in ${dir}: ${(err as Error).message}`,
      'Give --report a folder you can write to.',
    );
  }
  return files;
}
