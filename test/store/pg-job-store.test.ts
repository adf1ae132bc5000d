import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { storeConformance, newJob } from './conformance.js';
import { pgStore } from '../helpers/pg.js';

storeConformance('PgJobStore', (t, opts) => pgStore(t, { now: opts?.now }));
