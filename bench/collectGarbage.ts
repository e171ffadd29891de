// A full, synchronous V8 garbage collection, run (untimed) before every timed request.
// Both systems share one process, and transformers.js leaves hundreds of MB of garbage per request (the
// KV cache copied out at every step, 512 x 50257 logits per prefill). Left alone, V8 collects it during
// the *next* request: GC pauses of up to 17 ms were seen inside single engine typing requests that
// followed a transformers.js request, on top of V8's background GC threads competing with ONNX Runtime's
// two threads on a 2-core machine. Collecting first makes every request start from a clean heap, as it
// would if each system ran by itself; garbage a request makes while it runs is still paid within it.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

// --expose-gc set at run time: `npm run bench` is plain `tsx bench/run.ts`, with no node flags.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export function collectGarbage(): void {
  gc();
}
