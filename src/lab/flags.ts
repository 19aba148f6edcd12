/**
 * Flags shared by the `laggkit lab` commands, so every command names the lab the same way.
 */
import * as Flags from '@oclif/core/flags';
import { DEFAULT_LAB } from './lab.js';

export const labNameFlag = Flags.string({ description: 'Lab name (several labs can run side by side)', default: DEFAULT_LAB });
