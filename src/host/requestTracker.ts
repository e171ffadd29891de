// Every request to the model worker goes through here, so that the extension's API can say what was sent
// and how each request ended (the integration tests read these events), and Generate continuation is logged.
import * as vscode from 'vscode';
import { isAbortError } from '../core/abortable';
import type { GenerateOptions, GenerationResult } from '../protocol';

export type RequestKind = 'inline' | 'generate';
export type RequestOutcome = { kind: RequestKind; options: GenerateOptions } & (
  | { outcome: 'done'; result: GenerationResult }
  | { outcome: 'cancelled' }
  | { outcome: 'error'; message: string }
);

type Generate = (options: GenerateOptions, signal: AbortSignal, onText?: (sample: number, text: string) => void) => Promise<GenerationResult>;

export class RequestTracker implements vscode.Disposable {
  private readonly sent = new vscode.EventEmitter<{ kind: RequestKind; options: GenerateOptions }>();
  private readonly finished = new vscode.EventEmitter<RequestOutcome>();
  readonly onDidSendRequest = this.sent.event;
  /** Every sent request ends with exactly one of these. */
  readonly onDidFinishRequest = this.finished.event;

  constructor(
    private readonly generate: Generate,
    private readonly log: (line: string) => void,
  ) {}

  async run(kind: RequestKind, options: GenerateOptions, signal: AbortSignal, onText?: (text: string) => void): Promise<GenerationResult> {
    this.sent.fire({ kind, options });
    try {
      const result = await this.generate(options, signal, onText && ((_sample, text) => onText(text)));
      if (kind === 'generate') this.log(describeResult(kind, result)); // inline requests are logged by the pipeline
      this.finished.fire(result.stopReasons.includes('cancelled') ? { kind, options, outcome: 'cancelled' } : { kind, options, outcome: 'done', result });
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.finished.fire(isAbortError(error) ? { kind, options, outcome: 'cancelled' } : { kind, options, outcome: 'error', message });
      throw error;
    }
  }

  dispose(): void {
    this.sent.dispose();
    this.finished.dispose();
  }
}

function describeResult(kind: RequestKind, { promptTokens, reusedTokens, newTokens, timings, stopReasons }: GenerationResult): string {
  return `${kind}: ${promptTokens} prompt tokens (${reusedTokens} reused), ${newTokens} new, ${Math.round(timings.totalMs)} ms, stop: ${stopReasons.join(',')}`;
}
