// Entry point of the model worker thread: wires the typed protocol to the engine service.
import { parentPort, workerData } from 'node:worker_threads';
import type { HostToWorker, WorkerStartData, WorkerToHost } from '../protocol';
import { obeyCrashRequests } from '../testSeam';
import { EngineService, startHeartbeat } from './engineService';

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');
const start = workerData as Partial<WorkerStartData> | undefined;
const post = (message: WorkerToHost) => port.postMessage(message);
const service = new EngineService(post);
startHeartbeat(post, start);
if (start?.testSeam) obeyCrashRequests(port);
port.on('message', (message: HostToWorker) => service.handle(message));
