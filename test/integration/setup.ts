// Every integration test file: the bundles it made go once its own
// afterAll hooks (which delete its containers) have run.
import { afterAll } from 'vitest';
import { removeMadeBundles } from './helpers.js';

afterAll(removeMadeBundles);
