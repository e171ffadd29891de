// The typed message protocol between the extension host and the model worker thread.
// Every message crossing `worker.postMessage` is one of the unions below; nothing else is sent.
// Requests carry an `id`; every reply about that request carries the same `id`.

export type Device = 'cpu' | 'gpu';
export type Dtype = 'fp32' | 'q8' | 'q4';

/** Where the worker gets its model from. */
export type ModelSource =
  | {
      kind: 'hub';
      modelId: string; // e.g. "Xenova/gpt2"
      revision: string; // branch, tag or commit
      hubUrl: string; // "https://huggingface.co" or a mirror / loopback test hub with the same layout
      cacheDir: string; // where downloads live (VS Code's global storage), never the extension folder
      offline: boolean; // never touch the network: use the cache or fail with a clear error
    }
  | { kind: 'folder'; path: string };

export interface LoadOptions {
  source: ModelSource;
  dtype: Dtype;
  device: Device;
  threads: number; // intra-op threads; 0 = choose for this machine
  /** The extension's own storage: the worker remembers load-probe results there (per model file), to load faster next time. */
  stateDir?: string;
}

export interface SamplingOptions {
  topK: number; // 0 = no limit
  topP: number; // 1 = no limit
  temperature: number; // 0 = greedy
  seed?: number; // same seed + same prompt + same options -> same text
}

export interface StopRules {
  /** Stop before the first newline of the generated text (single-line ghost text). */
  atNewline: boolean;
  /** Stop before any of these strings; the string itself is not part of the result. */
  strings: string[];
}

export interface GenerateOptions {
  prompt: string;
  maxNewTokens: number;
  sampling: SamplingOptions;
  stop: StopRules;
  /** Send a `token` message for each new piece of text. */
  stream: boolean;
  /** Independent samples from the same prompt (for cycling through alternatives). */
  samples: number;
  /**
   * Token healing: when the prompt ends inside a word, generate from before that word's last tokens, with the first
   * tokens constrained to rewrite them; the text returned and streamed starts at the end of the prompt. Default off.
   */
  heal?: boolean;
  /**
   * Stop before the first token whose probability (softmax of logits / temperature, over the whole vocabulary, before
   * top-k/top-p; temperature 1 when greedy) is below this. 0 or absent = off.
   */
  minTokenProbability?: number;
  /**
   * Prompt-lookup speculative decoding for a single sample: tokens drafted from the prompt and the text generated so
   * far are verified in one model pass; the output is plain decoding's. Default on; false turns it off.
   */
  speculate?: boolean;
}

export type HostToWorker =
  | { type: 'load'; id: number; options: LoadOptions }
  | { type: 'generate'; id: number; options: GenerateOptions }
  | { type: 'cancel'; id: number }
  | { type: 'dispose'; id: number };

export interface ModelInfo {
  name: string; // model id or folder
  nLayer: number;
  nHead: number;
  nEmbd: number;
  contextLength: number; // n_positions
  vocabSize: number;
  dtype: Dtype;
  device: Device; // the device actually used
  fallbackReason?: string; // set when `gpu` was asked for and CPU is used instead
  files: string[]; // paths of the files loaded
  /** Which graph runs and why: the engine's own graph on the file's weights, a rewrite of the file, or the file as shipped. */
  graph: string;
}

export type StopReason = 'eos' | 'length' | 'stop' | 'cancelled' | 'low-confidence';

/** Where a sample stopped for `low-confidence`: the index of the refused new token (0 = nothing shown) and its probability. */
export interface ConfidenceCut {
  sample: number;
  token: number;
  probability: number;
}

export interface GenerationResult {
  texts: string[]; // one per sample
  stopReasons: StopReason[];
  promptTokens: number; // after cropping to the window
  reusedTokens: number; // prompt tokens whose KV cache was reused from an earlier request
  newTokens: number; // summed over samples
  confidenceCuts?: ConfidenceCut[]; // one per sample that stopped for 'low-confidence'
  /** When speculative decoding ran: verified drafts, drafted and accepted tokens, and why it switched off, if it did. */
  speculation?: { drafts: number; drafted: number; accepted: number; off?: string };
  timings: { prefillMs: number; decodeMs: number; totalMs: number };
}

export type ProgressPhase = 'download' | 'load';

export type WorkerToHost =
  | { type: 'progress'; id: number; phase: ProgressPhase; file: string; loaded: number; total: number; percent: number }
  | { type: 'loaded'; id: number; info: ModelInfo }
  | { type: 'token'; id: number; sample: number; text: string }
  | { type: 'done'; id: number; result: GenerationResult }
  | { type: 'error'; id: number; code: ErrorCode; message: string }
  | { type: 'log'; level: 'trace' | 'info' | 'warn' | 'error'; message: string }
  // Sent on a timer: a worker whose event loop is stuck (a model file that never finishes parsing) cannot send it.
  | { type: 'alive' };

/** The Worker's `workerData`: how often to send `alive`, chosen by the host to fit its watchdog. */
export interface WorkerStartData {
  heartbeatMs: number;
  /** Set only under test (src/testSeam.ts): the worker then also obeys the seam's crash request. */
  testSeam?: boolean;
}

export type ErrorCode =
  | 'bad-request' // the request itself is invalid (empty prompt, not loaded, ...)
  | 'model-files' // missing, truncated, corrupted or unreadable model files
  | 'download' // network or server failure while downloading
  | 'offline' // offline mode and the model is not in the cache
  | 'runtime' // ONNX Runtime failed
  | 'crashed' // the worker died; the host restarts it
  | 'unresponsive'; // the worker sent nothing, not even `alive`, for too long; the host ended it

/** Token id of `<|endoftext|>` in every GPT-2 vocabulary. */
export const END_OF_TEXT = 50256;
