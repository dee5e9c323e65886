/**
 * Entry point of the init (bundled as dist/bundle/init-main.js): the
 * program the C stage execs inside the namespaces. Not meant to be run by hand.
 */
import { initMain } from './init.js';

await initMain();
