/** The command line's entry point (bundled as dist/bundle/ocirun.js, which bin/ocirun runs). */
import { main } from './main.js';

await main(process.argv.slice(2));
