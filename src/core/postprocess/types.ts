// What every post-processing filter gets: the completion and the text around the cursor.

export interface PostprocessContext {
  /** Text of the cursor's line before the cursor. */
  linePrefix: string;
  /** Text of the cursor's line after the cursor. */
  lineSuffix: string;
  /** The `localGpt2.multiline` setting. */
  multiline: boolean;
}

/** Returns the cleaned completion, or undefined to drop it. Filters must not throw. */
export type PostprocessFilter = (completion: string, context: PostprocessContext) => string | undefined;
