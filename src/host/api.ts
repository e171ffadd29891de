// What the extension exports: used by the integration tests, stable enough for other extensions.
import type * as vscode from 'vscode';
import type { ModelController } from '../client/modelController';
import type { GenerateOptions } from '../protocol';
import type { TestSeam } from '../testSeam';
import type { ModelDisplay } from './displayState';
import type { RequestKind, RequestOutcome, RequestTracker } from './requestTracker';
import type { DisplayState } from './statusBar';

export interface LocalGpt2Api {
  onDidSendRequest: vscode.Event<{ kind: RequestKind; options: GenerateOptions }>;
  /** Every request sent to the worker ends with exactly one of these. */
  onDidFinishRequest: vscode.Event<RequestOutcome>;
  onDidChangeState: vscode.Event<DisplayState>;
  state(): DisplayState & { message?: string };
  restartWorker(): Promise<void>;
  /** Only when the e2e runners ask for it (src/testSeam.ts); never in production. */
  testSeam?: TestSeam;
}

export function createApi(tracker: RequestTracker, display: ModelDisplay, controller: ModelController, testSeam?: TestSeam): LocalGpt2Api {
  return {
    onDidSendRequest: tracker.onDidSendRequest,
    onDidFinishRequest: tracker.onDidFinishRequest,
    onDidChangeState: display.onDidChange,
    state: () => display.state,
    restartWorker: () => controller.restart(),
    ...(testSeam && { testSeam }),
  };
}
