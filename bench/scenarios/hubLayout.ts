// (d) Hub layout: the same weights as the engine's model, in the layout a hub download has (Optimum merged
// decoder, bench/hubLayoutModel.ts), loaded through loadModel like a download. The target: a hub
// download runs within 1.1x of the project's own graph while typing and decoding. Both engines alternate
// request by request as in (b), and decode at the longest context of (c); the loader's choice of graph for
// the download (ModelInfo.graph) is recorded, since only "the engine's graph on the file's ... weights"
// means the mapping applied.
import type { TypingSession } from '../prompts';
import type { EngineSystem } from '../systems/engineSystem';
import { SettledSystem } from '../systems/settledSystem';
import { runDecodeSpeed, type DecodeSpeedResult } from './decodeSpeed';
import { runTypingSession, type TypingSessionResult } from './typingSession';

export interface HubLayoutResult {
  /** The hub-layout file, relative to the repository, and the producerName it was given. */
  file: string;
  producerName: string;
  /** How the file was made: the bench writes it (genuine 124M exports cannot be downloaded here). */
  written: string;
  /** ModelInfo.graph of the hub-layout load. */
  graph: string;
  /** Whether the loader ran the engine's graph on the file's weights (the mapping applied). */
  mapped: boolean;
  /** loadModel's log for the hub-layout file: the graph chosen and why faster ones were not. */
  loadLog: string[];
  loadMs: number;
  typingSession: TypingSessionResult;
  decodeSpeed: DecodeSpeedResult;
}

/** The description graphChoice gives the mapped graph: "the engine's graph on the file's q8 weights". */
export const isMappedGraph = (graph: string): boolean => /^the engine's graph on the file's \S+ weights$/.test(graph);

export async function runHubLayout(
  own: EngineSystem,
  hub: EngineSystem,
  session: TypingSession,
  options: { file: string; producerName: string; written: string; maxNewTokens: number; promptIds: (context: number) => number[]; context: number; tokens: number; log: (line: string) => void },
): Promise<HubLayoutResult> {
  const systems = [new SettledSystem(own), new SettledSystem(hub)];
  options.log('  warm-up');
  for (const system of systems) await system.completeCold(session.prompts[0], 4, 1);
  const typingSession = await runTypingSession(systems, session, { maxNewTokens: options.maxNewTokens, log: options.log });
  const decodeSpeed = await runDecodeSpeed(systems, options.promptIds, { contexts: [options.context], tokens: options.tokens, log: options.log });
  return {
    file: options.file,
    producerName: options.producerName,
    written: options.written,
    graph: hub.graph,
    mapped: isMappedGraph(hub.graph),
    loadLog: hub.loadLog,
    loadMs: hub.loadMs,
    typingSession,
    decodeSpeed,
  };
}
