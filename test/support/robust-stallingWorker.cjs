// Worker threads under Node 20 do not inherit the test run's tsx loader, so this entry registers it before
// loading the TypeScript worker.
require('tsx/cjs');
require('./robust-stallingWorker.ts');
