// The prompts both systems get, derived from one realistic source file (bench/fixtures/editor-buffer.txt)
// so that the token statistics are those of real code, not of repeated filler words.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mulberry32 } from '../src/worker/rng';
import type { TextCodec } from '../src/worker/engine/tokenizer';

const BUFFER_FILE = path.join(__dirname, 'fixtures', 'editor-buffer.txt');

export interface TypingSession {
  /** The prompt of each request, in order: each is the previous one plus the next 1-3 characters of the file. */
  prompts: string[];
  startTokens: number;
  endTokens: number;
}

export class BenchPrompts {
  private readonly text = fs.readFileSync(BUFFER_FILE, 'utf8');
  private readonly ids: number[];

  constructor(private readonly codec: TextCodec) {
    this.ids = codec.encode(this.text);
  }

  /** The first `count` tokens of the file, as ids (for measurements that bypass tokenization). */
  tokenIds(count: number): number[] {
    if (count > this.ids.length) throw new Error(`the fixture has ${this.ids.length} tokens, ${count} asked`);
    return this.ids.slice(0, count);
  }

  /**
   * A prompt text that tokenizes to exactly `count` tokens: the decoded first `count` tokens, checked by
   * re-encoding (a cut inside a BPE merge would change the count, and both systems must see the same length).
   */
  textOfTokens(count: number): string {
    const text = this.codec.decode(this.tokenIds(count));
    const actual = this.codec.encode(text).length;
    if (actual !== count) throw new Error(`prompt of ${count} tokens re-encodes to ${actual}; pick another length`);
    return text;
  }

  /**
   * Someone typing at the end of the file's first ~`startTokens` tokens: the session starts at the last line
   * break within that budget, and each keystroke burst adds the file's next 1-3 characters, drawn from a
   * seeded RNG so that every run types the same thing.
   */
  typingSession(startTokens: number, requests: number, seed: number): TypingSession {
    let cut = this.text.lastIndexOf('\n', this.codec.decode(this.tokenIds(startTokens)).length - 1) + 1;
    const rng = mulberry32(seed);
    const prompts: string[] = [];
    for (let i = 0; i < requests; i++) {
      cut += 1 + Math.floor(rng() * 3);
      if (cut > this.text.length) throw new Error('the fixture is too short for this typing session');
      prompts.push(this.text.slice(0, cut));
    }
    return { prompts, startTokens: this.codec.encode(prompts[0]).length, endTokens: this.codec.encode(prompts[prompts.length - 1]).length };
  }
}
