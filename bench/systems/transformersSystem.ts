// transformers.js v4 as an application would use it for the same job: AutoModelForCausalLM.generate()
// on the same ONNX file, with the same thread count. It keeps no state between generate() calls, so every
// request re-runs the whole prompt; that is the baseline the engine's prefix reuse is measured against.
import { AutoModelForCausalLM, AutoTokenizer, BaseStreamer, env, Tensor, type PreTrainedModel, type PreTrainedTokenizer, type TextStreamer } from '@huggingface/transformers';
import { TRANSFORMERS } from '../targets';
import type { CompletionSystem, DecodeTiming, RequestTiming, SystemConfig } from './completionSystem';

/** Records when generate() hands over each batch of ids: first the prompt, then one call per new token. */
class TokenClock extends BaseStreamer {
  readonly times: number[] = [];
  override put(): void {
    this.times.push(performance.now());
  }
  override end(): void {}
}

export class TransformersSystem implements CompletionSystem {
  readonly name = TRANSFORMERS; // the key every result table and target looks it up by

  private constructor(
    private readonly model: PreTrainedModel,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly config: SystemConfig,
    readonly loadMs: number,
  ) {}

  static async load(config: SystemConfig): Promise<TransformersSystem> {
    env.allowRemoteModels = false;
    const started = performance.now();
    const tokenizer = await AutoTokenizer.from_pretrained(config.folder, { local_files_only: true });
    const model = await AutoModelForCausalLM.from_pretrained(config.folder, {
      dtype: config.dtype,
      // transformers.js' default name is "model"; the Optimum export (and the engine) use the merged decoder.
      model_file_name: 'decoder_model_merged',
      local_files_only: true,
      session_options: { intraOpNumThreads: config.threads, interOpNumThreads: 1 },
    });
    return new TransformersSystem(model, tokenizer, config, performance.now() - started);
  }

  async complete(prompt: string, maxNewTokens: number): Promise<RequestTiming> {
    const started = performance.now();
    const { input_ids, attention_mask } = this.tokenizer(prompt) as { input_ids: Tensor; attention_mask: Tensor };
    const { times, newIds } = await this.generate(input_ids, attention_mask, maxNewTokens);
    this.tokenizer.decode(newIds, { skip_special_tokens: false }); // the extension needs text, as the engine produces
    return {
      ms: performance.now() - started,
      firstTokenMs: times[1] - started,
      promptTokens: input_ids.dims[1],
      newTokens: newIds.length,
      reusedTokens: 0,
    };
  }

  completeCold(prompt: string, maxNewTokens: number): Promise<RequestTiming> {
    return this.complete(prompt, maxNewTokens);
  }

  /** Token-to-token intervals of one generate() call; the context grows from the prompt length by one per token. */
  async measureDecode(promptIds: number[], tokens: number): Promise<DecodeTiming> {
    const ids = new Tensor('int64', BigInt64Array.from(promptIds, BigInt), [1, promptIds.length]);
    const mask = new Tensor('int64', new BigInt64Array(promptIds.length).fill(1n), [1, promptIds.length]);
    // tokens + 1: the first new token comes out of the prefill, each later one out of a decode step.
    const { times } = await this.generate(ids, mask, tokens + 1);
    const tokenMs = times.slice(2).map((t, i) => t - times[i + 1]);
    return { context: promptIds.length, tokenMs };
  }

  private async generate(input_ids: Tensor, attention_mask: Tensor, maxNewTokens: number): Promise<{ times: number[]; newIds: number[] }> {
    const clock = new TokenClock();
    const output = (await this.model.generate({
      input_ids,
      attention_mask,
      do_sample: true,
      top_k: this.config.topK,
      max_new_tokens: maxNewTokens,
      // Forbids <|endoftext|> until the full length, so both systems generate the same number of tokens.
      min_new_tokens: maxNewTokens,
      // The .d.ts types `streamer` as BaseStreamer & TextStreamer; generate() itself only calls put() and end().
      streamer: clock as unknown as TextStreamer,
    })) as Tensor;
    const all = (output.tolist() as bigint[][])[0];
    return { times: clock.times, newIds: all.slice(input_ids.dims[1]).map(Number) };
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
