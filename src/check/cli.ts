#!/usr/bin/env node
// The `rxsync-check` bin; everything it does is in main.ts, which tests import.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
